import { Counter, Gauge, Registry } from 'prom-client';
import { loopDelayMonitor, realClock } from './clock.ts';

/**
 * Metric catalogue. Each process makes its own Registry (no prom-client global), so tests can build as many as they
 * like. Names are what the Grafana dashboard in manifests/grafana queries; keep manifests/grafana/METRICS.txt in step.
 */

/** SpeakerMetrics are what a speaker exports about its own virtual routers and sockets. */
export interface SpeakerMetrics {
  readonly registry: Registry;
  /** 1 while this node is master of the VIP, else 0 (labels vip, vrid, family, node, service). */
  readonly vipMaster: Gauge<'vip' | 'vrid' | 'family' | 'node' | 'service'>;
  /** Router state as a number: 0 initialize, 1 backup, 2 master (labels vrid, family, interface). */
  readonly routerState: Gauge<'vrid' | 'family' | 'interface'>;
  /**
   * Routers this node saw acting as master within the last Master_Down_Interval: the distinct sources of adverts with
   * a priority above 0, plus itself when master (labels vrid, family, interface). 1 is normal; 2 or more is two masters
   * on the wire, seen from here within one advert interval; 0 is nobody. Computed at each scrape by the collectors
   * added with `addCollector`.
   */
  readonly mastersSeen: Gauge<'vrid' | 'family' | 'interface'>;
  /** addCollector runs `fn` before every scrape (to refresh computed gauges); returns its removal. */
  addCollector(fn: () => void): () => void;
  /**
   * addFlush runs `fn` whenever advertsSent or advertsReceived is read (a scrape, or `get()`): the speaker counts
   * adverts in plain numbers on its hot path (a labelled inc costs a label hash per advert) and adds them there.
   * Returns its removal.
   */
  addFlush(fn: () => void): () => void;
  /** Transitions by new state and reason; reason `health` counts a master resigning on a failed health check. */
  readonly transitions: Counter<'vrid' | 'family' | 'to' | 'reason'>;
  /** 1 while a health check of this node is up (or has no result yet), 0 while it fails (labels check, interface). */
  readonly healthCheckUp: Gauge<'check' | 'interface'>;
  readonly advertsSent: Counter<'vrid' | 'family'>;
  readonly advertsReceived: Counter<'vrid' | 'family'>;
  /** Received VRRP packets dropped before the engine, by reason (codec reasons, bad-ttl, …). */
  readonly invalidPackets: Counter<'family' | 'reason'>;
  /** IPv4 adverts accepted with a checksum that leaves the pseudo-header out (counted apart, RFC 5798 §5.2.8). */
  readonly legacyChecksum: Counter<'vrid'>;
  readonly arpReplies: Counter<'interface'>;
  readonly ndpReplies: Counter<'interface'>;
  readonly neighborDrops: Counter<'family' | 'interface' | 'reason'>;
  /** Frames the XDP responder (--xdp-answers) answered (`answered`, also in arp/ndpReplies) or left to the stack. */
  readonly xdpFrames: Counter<'family' | 'interface' | 'outcome'>;
  readonly gratuitousSent: Counter<'family' | 'interface'>;
  /** BFD liveness sessions by bfd.SessionState (admin-down, down, init, up), over all interfaces. */
  readonly livenessSessions: Gauge<'state'>;
  readonly apiWatchErrors: Counter<'resource'>;
  readonly configErrors: Counter<'kind' | 'code'>;
}

/** ControllerMetrics are the allocator's view: pool sizes, usage and failures. */
export interface ControllerMetrics {
  readonly registry: Registry;
  readonly poolAddresses: Gauge<'pool' | 'family'>;
  readonly poolInUse: Gauge<'pool' | 'family'>;
  readonly allocationErrors: Counter<'reason'>;
  readonly allocations: Counter<'pool'>;
  readonly apiWatchErrors: Counter<'resource'>;
  readonly configErrors: Counter<'kind' | 'code'>;
  /** 1 while this replica holds the leader Lease and allocates (1 when leader election is off), else 0. */
  readonly leader: Gauge;
  /** Failed leader-Lease calls by operation (get, create, update, release); they are retried. */
  readonly leaderElectionErrors: Counter<'operation'>;
}

function registryFor(component: string, withProcess: boolean): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  if (withProcess) registerProcessMetrics(registry);
  return registry;
}

/**
 * registerProcessMetrics adds the standard process_* series (CPU, RSS, start time). prom-client's
 * collectDefaultMetrics is not used: three of its gauges end in `_total`, which `promtool check metrics` rejects.
 */
function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  let lastCpu = process.cpuUsage();
  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time spent, in seconds',
    registers,
    collect() {
      const now = process.cpuUsage();
      this.inc((now.user - lastCpu.user + now.system - lastCpu.system) / 1e6);
      lastCpu = now;
    },
  }).inc((lastCpu.user + lastCpu.system) / 1e6);
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since the Unix epoch, in seconds',
    registers,
  }).set(Math.round(realClock.wallNow() / 1000 - process.uptime()));
  registerEventLoopDelay(registers);
}

/**
 * registerEventLoopDelay exports how late the event loop ran timers since the previous scrape (node:perf_hooks
 * monitorEventLoopDelay, 10 ms resolution), p99 and max: a late loop delays adverts, BFD packets and ARP answers.
 * The histogram restarts at each scrape, so one stall shows once. The name is prom-client's for the same gauge.
 */
function registerEventLoopDelay(registers: Registry[]): void {
  const h = loopDelayMonitor(10);
  // Both gauges read one snapshot: the p99 gauge is collected first and resets the histogram after max is taken.
  let max = 0;
  new Gauge({
    name: 'nodejs_eventloop_lag_p99_seconds',
    help: 'Event loop delay since the previous scrape, 99th percentile, in seconds',
    registers,
    collect() {
      max = h.count > 0 ? h.max / 1e9 : 0;
      this.set(h.count > 0 ? h.percentile(99) / 1e9 : 0);
      h.reset();
    },
  });
  new Gauge({
    name: 'nodejs_eventloop_lag_max_seconds',
    help: 'Event loop delay since the previous scrape, maximum, in seconds',
    registers,
    collect() {
      this.set(max);
    },
  });
}

/** createSpeakerMetrics registers the speaker's metrics on a fresh registry. */
export function createSpeakerMetrics(opts: { processMetrics?: boolean } = {}): SpeakerMetrics {
  const registry = registryFor('speaker', opts.processMetrics ?? true);
  const r = [registry];
  const collectors = new Set<() => void>();
  const flushes = new Set<() => void>();
  const flush = () => {
    for (const fn of flushes) fn();
  };
  return {
    registry,
    mastersSeen: new Gauge({
      name: 'metal_vrrp_masters_seen',
      help: 'Routers seen acting as VRRP master within Master_Down_Interval, this node included (2+: two masters)',
      labelNames: ['vrid', 'family', 'interface'],
      registers: r,
      collect() {
        for (const fn of collectors) fn();
      },
    }),
    addCollector(fn) {
      collectors.add(fn);
      return () => collectors.delete(fn);
    },
    addFlush(fn) {
      flushes.add(fn);
      return () => flushes.delete(fn);
    },
    vipMaster: new Gauge({
      name: 'metal_vrrp_vip_master',
      help: '1 while this node is VRRP master of the VIP',
      labelNames: ['vip', 'vrid', 'family', 'node', 'service'],
      registers: r,
    }),
    routerState: new Gauge({
      name: 'metal_vrrp_router_state',
      help: 'Virtual router state: 0 initialize, 1 backup, 2 master',
      labelNames: ['vrid', 'family', 'interface'],
      registers: r,
    }),
    transitions: new Counter({
      name: 'metal_vrrp_transitions_total',
      help: 'Virtual router state transitions by new state and reason',
      labelNames: ['vrid', 'family', 'to', 'reason'],
      registers: r,
    }),
    healthCheckUp: new Gauge({
      name: 'metal_vrrp_health_check_up',
      help: '1 while a health check of this node is up, 0 while it fails',
      labelNames: ['check', 'interface'],
      registers: r,
    }),
    advertsSent: new Counter({
      name: 'metal_vrrp_adverts_sent_total',
      help: 'VRRP advertisements sent',
      labelNames: ['vrid', 'family'],
      registers: r,
      collect: flush,
    }),
    advertsReceived: new Counter({
      name: 'metal_vrrp_adverts_received_total',
      help: 'Valid VRRP advertisements received',
      labelNames: ['vrid', 'family'],
      registers: r,
      collect: flush,
    }),
    invalidPackets: new Counter({
      name: 'metal_vrrp_invalid_packets_total',
      help: 'Received VRRP packets dropped as invalid, by reason',
      labelNames: ['family', 'reason'],
      registers: r,
    }),
    legacyChecksum: new Counter({
      name: 'metal_vrrp_legacy_checksum_adverts_total',
      help: 'IPv4 adverts accepted whose checksum leaves out the pseudo-header',
      labelNames: ['vrid'],
      registers: r,
    }),
    arpReplies: new Counter({
      name: 'metal_vrrp_arp_replies_total',
      help: 'ARP requests answered for VIPs this node masters',
      labelNames: ['interface'],
      registers: r,
    }),
    ndpReplies: new Counter({
      name: 'metal_vrrp_ndp_replies_total',
      help: 'Neighbour solicitations answered for VIPs this node masters',
      labelNames: ['interface'],
      registers: r,
    }),
    neighborDrops: new Counter({
      name: 'metal_vrrp_neighbor_requests_dropped_total',
      help: 'Frames on the ARP and NDP sockets not answered, by reason (not-ours: a VIP this node does not master)',
      labelNames: ['family', 'interface', 'reason'],
      registers: r,
    }),
    xdpFrames: new Counter({
      name: 'metal_vrrp_xdp_frames_total',
      help: 'ARP requests and neighbour solicitations seen by the XDP responder: answered by XDP_TX, passed on to the stack, or resize-failed',
      labelNames: ['family', 'interface', 'outcome'],
      registers: r,
    }),
    gratuitousSent: new Counter({
      name: 'metal_vrrp_gratuitous_sent_total',
      help: 'Gratuitous ARP and unsolicited neighbour advertisements sent',
      labelNames: ['family', 'interface'],
      registers: r,
    }),
    livenessSessions: new Gauge({
      name: 'metal_vrrp_liveness_sessions',
      help: 'BFD liveness sessions to other nodes, by session state',
      labelNames: ['state'],
      registers: r,
    }),
    apiWatchErrors: apiWatchErrors(r),
    configErrors: configErrors(r),
  };
}

/** createControllerMetrics registers the controller's metrics on a fresh registry. */
export function createControllerMetrics(opts: { processMetrics?: boolean } = {}): ControllerMetrics {
  const registry = registryFor('controller', opts.processMetrics ?? true);
  const r = [registry];
  return {
    registry,
    poolAddresses: new Gauge({
      name: 'metal_vrrp_pool_addresses',
      help: 'Addresses an IPAddressPool can hand out',
      labelNames: ['pool', 'family'],
      registers: r,
    }),
    poolInUse: new Gauge({
      name: 'metal_vrrp_pool_addresses_in_use',
      help: 'Addresses of an IPAddressPool assigned to Services',
      labelNames: ['pool', 'family'],
      registers: r,
    }),
    allocationErrors: new Counter({
      name: 'metal_vrrp_allocation_errors_total',
      help: 'Failed IP allocations by reason code',
      labelNames: ['reason'],
      registers: r,
    }),
    allocations: new Counter({
      name: 'metal_vrrp_allocations_total',
      help: 'Successful IP allocations by pool',
      labelNames: ['pool'],
      registers: r,
    }),
    apiWatchErrors: apiWatchErrors(r),
    configErrors: configErrors(r),
    leader: new Gauge({
      name: 'metal_vrrp_leader',
      help: '1 while this controller replica holds the leader Lease and allocates',
      registers: r,
    }),
    leaderElectionErrors: new Counter({
      name: 'metal_vrrp_leader_election_errors_total',
      help: 'Failed leader Lease API calls by operation (retried)',
      labelNames: ['operation'],
      registers: r,
    }),
  };
}

function apiWatchErrors(registers: Registry[]): Counter<'resource'> {
  return new Counter({
    name: 'metal_vrrp_api_watch_errors_total',
    help: 'Kubernetes API list/watch failures by resource',
    labelNames: ['resource'],
    registers,
  });
}

function configErrors(registers: Registry[]): Counter<'kind' | 'code'> {
  return new Counter({
    name: 'metal_vrrp_config_errors_total',
    help: 'Invalid configuration objects or annotation values, by kind and error code',
    labelNames: ['kind', 'code'],
    registers,
  });
}
