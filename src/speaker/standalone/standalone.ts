/**
 * startStandalone runs a speaker from a parsed standalone config (standalone-config.ts) on a real interface: reads
 * the interface, plans the routers, opens the sockets, starts the elections. The CLI command adds the HTTP
 * endpoints and signal handling; the lab and tests may call this directly.
 */

import { familyOf } from '../../../vrrp/ip.ts';
import type { Logger } from '../../log.ts';
import type { SpeakerMetrics } from '../../metrics.ts';
import type { Sources } from '../../model/local-node.ts';
import { type InterfaceInfo, readInterfaceInfo, sourcesOf } from '../../net/interface-info.ts';
import { planRouterSpec, type RouterSpec } from '../router-spec.ts';
import { openNetPorts } from '../runtime/net-ports.ts';
import { type Clock, realClock } from '../runtime/scheduler.ts';
import { Speaker } from '../runtime/speaker.ts';
import type { StandaloneConfig } from './standalone-config.ts';

/** StandaloneDeps: the config, this node's name (for metrics), the logger and metrics; clock and interface reader
 * default to the real ones. */
export interface StandaloneDeps {
  readonly config: StandaloneConfig;
  readonly nodeName: string;
  readonly logger: Logger;
  readonly metrics: SpeakerMetrics;
  readonly clock?: Clock;
  readonly readInterface?: (ifname: string) => ReturnType<typeof readInterfaceInfo>;
}

/** RunningSpeaker is a started speaker; stop() sends priority 0 where it masters, then closes the sockets. */
export interface RunningSpeaker {
  readonly speaker: Speaker;
  readonly info: InterfaceInfo;
  stop(): Promise<void>;
}

/** StandaloneError is a start-up failure the operator must fix (bad interface, config the interface cannot serve). */
export class StandaloneError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'StandaloneError';
    this.problems = problems;
  }
}

/**
 * standaloneSpecs plans the config's routers on an interface with these advert sources: the one planning step of
 * standalone mode (the Kubernetes mode's is desiredRouters). Speaker-wide settings (announcements, unicast peers)
 * become each router's own.
 */
export function standaloneSpecs(
  config: StandaloneConfig,
  sources: Sources,
): { readonly specs: readonly RouterSpec[] } | { readonly errors: readonly string[] } {
  const specs: RouterSpec[] = [];
  const errors: string[] = [];
  for (const router of config.routers) {
    const peers = config.unicastPeers.filter((p) => familyOf(p) === router.family);
    const planned = planRouterSpec(
      {
        ...router,
        interface: config.interface,
        peerMode: peers.length > 0 ? 'unicast' : 'multicast',
        peers,
        gratuitous: config.gratuitous,
      },
      sources,
    );
    if ('errors' in planned) errors.push(...planned.errors);
    else specs.push(planned.spec);
  }
  return errors.length > 0 ? { errors } : { specs };
}

/** startStandalone starts the speaker; throws StandaloneError for config problems, socket errors as they come. */
export async function startStandalone(deps: StandaloneDeps): Promise<RunningSpeaker> {
  const { config, logger } = deps;
  const read = deps.readInterface ?? readInterfaceInfo;
  const info = read(config.interface);
  if (!info.ok) throw new StandaloneError([`interface ${config.interface}: ${info.reason} (${info.detail})`]);
  const v6Peers = config.unicastPeers.filter((p) => p.includes(':'));
  if (v6Peers.length > 0) {
    // VrrpSocket sends IPv6 adverts as whole frames and has no neighbour lookup for a unicast peer's MAC.
    throw new StandaloneError([`unicastPeers: IPv6 unicast is not supported (${v6Peers.join(', ')}); use multicast`]);
  }
  const sources = sourcesOf(info);
  const planned = standaloneSpecs(config, sources);
  if ('errors' in planned) throw new StandaloneError(planned.errors);
  const routers = planned.specs;

  let speaker: Speaker | undefined;
  const ports = openNetPorts({
    info,
    routers,
    sources,
    onReceive: (r) => speaker?.receive(r),
    shouldAnswer: (ip, ifname) => speaker?.shouldAnswer(ip, ifname) ?? false,
    metrics: deps.metrics,
    logger,
  });
  speaker = new Speaker({
    ifname: info.name,
    nodeName: deps.nodeName,
    routers,
    ports,
    clock: deps.clock ?? realClock,
    metrics: deps.metrics,
    logger,
    unicastPeers: config.unicastPeers,
  });
  speaker.start();
  logger.info(
    {
      interface: info.name,
      mac: info.mac,
      sources,
      routers: routers.map((r) => ({ vrid: r.config.vrid, family: r.config.family, priority: r.config.priority })),
    },
    'speaker started',
  );
  const running = speaker;
  let stopping: Promise<void> | undefined;
  return {
    speaker: running,
    info,
    stop: () => {
      stopping ??= (async () => {
        await running.stop();
        ports.close();
      })();
      return stopping;
    },
  };
}
