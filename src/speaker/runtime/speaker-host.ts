/**
 * SpeakerHost is the RouterHost of Kubernetes mode over real interfaces: one Speaker and one set of sockets per
 * interface that carries routers (opened on the first router, closed with the last), routers added, changed and
 * removed one by one while the others keep their state. It runs the specs it is given as they are: planning (source
 * address, IPv6 virtual link-local, peers, announcements) happened before, in the cluster decisions.
 */
import type { Family } from '../../../vrrp/advert.ts';
import { type Clock, realClock } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { SpeakerMetrics } from '../../metrics.ts';
import { type InterfaceInfo, readInterfaceInfo, sourcesOf } from '../../net/interface-info.ts';
import { livenessHold } from '../liveness-hold.ts';
import type { LivenessLink } from '../liveness-spec.ts';
import type { RouterHost, RouterKey, RouterSpec, RouterStep, TransitionListener } from '../router-spec.ts';
import type { XdpAnswers } from '../xdp-answers-setting.ts';
import { LivenessHost, type LivenessHostDeps } from './liveness-host.ts';
import { type NetPorts, openNetPorts } from './net-ports.ts';
import { Speaker } from './speaker.ts';

/** SpeakerHostDeps: this node, metrics and logs; clock, interface reader and socket opener default to the real ones. */
export interface SpeakerHostDeps {
  readonly nodeName: string;
  readonly metrics: SpeakerMetrics;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly readInterface?: typeof readInterfaceInfo;
  readonly openPorts?: typeof openNetPorts;
  /** openLivenessSocket replaces the BFD socket (tests). */
  readonly openLivenessSocket?: LivenessHostDeps['openSocket'];
  /** xdpAnswers: ARP/NDP answered by XDP on every interface opened (`--xdp-answers`); absent: off. */
  readonly xdpAnswers?: XdpAnswers;
}

interface Link {
  readonly info: InterfaceInfo;
  readonly ports: NetPorts;
  readonly speaker: Speaker;
}

/** SpeakerHost: see the file comment. */
export class SpeakerHost implements RouterHost {
  readonly #deps: SpeakerHostDeps;
  readonly #links = new Map<string, Link>(); // interface -> its speaker and sockets
  readonly #routers = new Map<RouterKey, RouterSpec>(); // router key -> spec as last given
  readonly #listeners: TransitionListener[] = [];
  #liveness: LivenessHost | undefined;

  constructor(deps: SpeakerHostDeps) {
    this.#deps = deps;
  }

  onTransition(listener: TransitionListener): void {
    this.#listeners.push(listener);
  }

  state(key: RouterKey) {
    const router = this.#routers.get(key);
    return router ? this.#links.get(router.interface)?.speaker.stateOf(key) : undefined;
  }

  apply(step: RouterStep): string | undefined {
    try {
      switch (step.op) {
        case 'start':
          return this.#start(step.spec);
        case 'stop':
          this.#stop(step.key);
          return undefined;
        case 'restart':
          this.#stop(step.key);
          return this.#start(step.spec);
        case 'reconfigure':
          return this.#reconfigure(step);
      }
    } catch (err) {
      return (err as Error)?.message ?? String(err);
    }
  }

  /**
   * setLiveness runs the plan's BFD sessions; a session that times out is a `peer-down` for the routers of its
   * interface (the engine acts in the backups that follow that master).
   */
  setLiveness(links: readonly LivenessLink[]): void {
    if (!this.#liveness && links.length === 0) return;
    const d = this.#deps;
    this.#liveness ??= new LivenessHost({
      clock: d.clock ?? realClock,
      logger: d.logger,
      metrics: d.metrics,
      ...(d.openLivenessSocket ? { openSocket: d.openLivenessSocket } : {}),
      onPeerDown: (ifname, family, address, link) => {
        // Rank order among the backups (speaker/liveness-hold.ts): wait for every live candidate ranked above.
        const dead = link.peers.find((p) => p.address === address)?.node;
        const up = new Set(
          this.livenessSessions()
            .filter((s) => s.interface === ifname && s.family === family && s.state === 'up')
            .map((s) => s.node),
        );
        const holdOf = (router: RouterSpec) =>
          livenessHold({
            ranking: router.ranking,
            self: d.nodeName,
            dead,
            isUp: (node) => up.has(node),
            intervalMs: link.intervalMs,
          });
        const following = this.#links.get(ifname)?.speaker.peerDown(address, holdOf) ?? 0;
        d.logger.warn({ interface: ifname, family, peer: address, node: dead, following }, 'liveness: peer down');
      },
    });
    this.#liveness.apply(links);
  }

  /** livenessSessions lists the BFD sessions and their states. */
  livenessSessions() {
    return this.#liveness?.sessions() ?? [];
  }

  async stop(): Promise<void> {
    // AdminDown first (RFC 5880 §6.8.16): the peers see a stop, not a death; priority 0 follows from the speakers.
    await this.#liveness?.stop();
    const links = [...this.#links.values()];
    this.#links.clear();
    await Promise.all(links.map((l) => l.speaker.stop()));
    for (const l of links) l.ports.close();
  }

  #start(spec: RouterSpec): string | undefined {
    const link = this.#link(spec.interface);
    if (typeof link === 'string') return link;
    if (spec.config.family === 'ipv6') for (const vip of spec.vips) link.ports.listenFor(vip);
    this.#routers.set(spec.key, spec); // before addRouter: its startup transition looks the router up
    link.speaker.addRouter(spec);
    return undefined;
  }

  #stop(key: RouterKey): void {
    const router = this.#routers.get(key);
    if (!router) return;
    this.#routers.delete(key);
    const link = this.#links.get(router.interface);
    link?.speaker.removeRouter(key);
    // The last router of an interface closes its sockets; a priority-0 advert is already handed to the kernel.
    if (link && ![...this.#routers.values()].some((r) => r.interface === router.interface)) {
      this.#links.delete(router.interface);
      void link.speaker.stop().then(() => link.ports.close());
    }
  }

  #reconfigure(step: Extract<RouterStep, { op: 'reconfigure' }>): string | undefined {
    const spec = step.spec;
    const link = this.#links.get(spec.interface);
    if (!link) return this.#start(spec);
    if (spec.config.family === 'ipv6' && step.configure.addresses)
      for (const vip of spec.vips) link.ports.listenFor(vip);
    const failure = link.speaker.reconfigureRouter(spec, step.configure);
    if (failure === undefined) this.#routers.set(spec.key, spec);
    return failure;
  }

  #link(ifname: string): Link | string {
    const existing = this.#links.get(ifname);
    if (existing) return existing;
    const d = this.#deps;
    const read = (d.readInterface ?? readInterfaceInfo)(ifname);
    if (!read.ok) return `interface ${ifname}: ${read.reason} (${read.detail})`;
    const info = read;
    const sources = sourcesOf(info);
    const families = (['ipv4', 'ipv6'] as const).filter((f: Family) => sources[f] !== undefined);
    let speaker: Speaker | undefined;
    const ports = (d.openPorts ?? openNetPorts)({
      info,
      routers: [],
      families,
      sources,
      onReceive: (r) => speaker?.receive(r),
      shouldAnswer: (ip, name) => speaker?.shouldAnswer(ip, name) ?? false,
      authKeys: (family, vrid) => speaker?.authKeysFor(family, vrid),
      metrics: d.metrics,
      logger: d.logger,
      ...(d.xdpAnswers === undefined ? {} : { xdpAnswers: d.xdpAnswers }),
    });
    speaker = new Speaker({
      ifname,
      nodeName: d.nodeName,
      routers: [],
      ports,
      clock: d.clock ?? realClock,
      metrics: d.metrics,
      logger: d.logger,
      onTransition: (key, to, reason) => {
        const router = this.#routers.get(key);
        if (router) for (const l of this.#listeners) l(router, to, reason);
      },
    });
    speaker.start();
    const link: Link = { info, ports, speaker };
    this.#links.set(ifname, link);
    d.logger.info({ interface: ifname, mac: info.mac, sources }, 'interface opened');
    return link;
  }
}
