/**
 * startStandalone runs a speaker from a parsed standalone config (standalone-config.ts) on a real interface: reads
 * the interface, plans the routers, opens the sockets, starts the elections. The CLI command adds the HTTP
 * endpoints and signal handling; the lab and tests may call this directly.
 */

import { type Clock, realClock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { SpeakerMetrics } from '../metrics.ts';
import { type InterfaceInfo, readInterfaceInfo, sourcesOf } from '../net/interface-info.ts';
import { openNetPorts } from '../speaker/runtime/net-ports.ts';
import { Speaker } from '../speaker/runtime/speaker.ts';
import type { StandaloneConfig } from '../speaker/standalone/standalone-config.ts';
import { standaloneSpecs } from '../speaker/standalone/standalone-plan.ts';
import type { XdpAnswers } from '../speaker/xdp-answers-setting.ts';

/** StandaloneDeps: the config, this node's name (for metrics), the logger and metrics; clock and interface reader
 * default to the real ones. */
export interface StandaloneDeps {
  readonly config: StandaloneConfig;
  readonly nodeName: string;
  readonly logger: Logger;
  readonly metrics: SpeakerMetrics;
  readonly clock?: Clock;
  readonly readInterface?: (ifname: string) => ReturnType<typeof readInterfaceInfo>;
  /** xdpAnswers: the flag, else the file's (net-ports.ts); absent: the file's, else off. */
  readonly xdpAnswers?: XdpAnswers;
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

/** startStandalone starts the speaker; throws StandaloneError for config problems, socket errors as they come. */
export async function startStandalone(deps: StandaloneDeps): Promise<RunningSpeaker> {
  const { config, logger } = deps;
  const read = deps.readInterface ?? readInterfaceInfo;
  const info = read(config.interface);
  if (!info.ok) throw new StandaloneError([`interface ${config.interface}: ${info.reason} (${info.detail})`]);
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
    authKeys: (family, vrid) => speaker?.authKeysFor(family, vrid),
    metrics: deps.metrics,
    logger,
    xdpAnswers: deps.xdpAnswers ?? config.xdpAnswers ?? 'off',
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
