// k8s-lab.ts — a small Kubernetes-mode cluster on a netns LAN, for the network tests and benches that need several
// speakers in Kubernetes mode: the API stand-in in this process (reached from the nodes through the api-bridge),
// the real controller in this process, Node objects with their InternalIPs, one pool (with the annotations asked
// for) and its L2Advertisement, N LoadBalancer Services, and one `metal-vrrp speaker` process per node.
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningController, startController } from '../../src/cli/controller.ts';
import { createLogger } from '../../src/log.ts';
import { parsePoolTuning } from '../../src/model/pool-tuning.ts';
import { routerPriorities } from '../../vrrp/priority.ts';
import { type ApiServer, startApiServer, writeKubeconfigFile } from '../apiserver-standin/index.ts';
import { type ApiBridge, startApiBridge } from './api-bridge.ts';
import { killTracked } from './exec.ts';
import { buildLab, hostAddress, type Lab, type LabHost, planLab, teardownByPrefix } from './netns.ts';
import { type SpeakerProcess, startSpeakerProcess } from './speaker.ts';

export const K8S_LAB_NAMESPACE = 'metallb-system';
const POOL = 'lab';

/** K8sLabOptions: namespace prefix, node count, Service count, the pool's annotations, extra speaker flags. */
export interface K8sLabOptions {
  readonly prefix: string;
  readonly nodes: number;
  readonly services: number;
  readonly poolAnnotations?: Readonly<Record<string, string>>;
  readonly speakerArgs?: readonly string[];
  readonly logLevel?: string;
  /** ipv6: dual stack: Nodes list an IPv6 InternalIP too, the pool an IPv6 range, Services require both families. */
  readonly ipv6?: boolean;
}

/** K8sLab is the running cluster; stop() removes everything it made. */
export interface K8sLab {
  readonly lab: Lab;
  readonly server: ApiServer;
  readonly speakers: Map<string, SpeakerProcess>; // node name -> speaker
  readonly services: readonly string[];
  vipOf(service: string): string;
  vridOf(service: string): number;
  /** vip6Of and vrid6Of: the Service's IPv6 address and router (ipv6 labs; '' and NaN otherwise). */
  vip6Of(service: string): string;
  vrid6Of(service: string): number;
  /** rankingOf is the rendezvous order of `candidates` for a Service's IPv4 router, with priorities. */
  rankingOf(service: string, candidates?: readonly string[]): { node: string; priority: number }[];
  /** masterOf is the node named by the Service's ServiceL2Status, when exactly one. */
  masterOf(service: string): string | undefined;
  hostOf(node: string): LabHost;
  startSpeaker(node: string): Promise<SpeakerProcess>;
  annotatePool(annotations: Readonly<Record<string, string>>): void;
  waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms?: number): Promise<T>;
  stop(): Promise<void>;
}

type Svc = {
  metadata: { annotations?: Record<string, string> };
  status?: { loadBalancer?: { ingress?: { ip: string }[] } };
};

/** startK8sLab builds the LAN and the cluster and starts every speaker (resolves once all have synced). */
export async function startK8sLab(opts: K8sLabOptions): Promise<K8sLab> {
  const prefix = opts.prefix;
  await teardownByPrefix(prefix);
  const plan = planLab({ prefix, nodes: opts.nodes });
  const vipsV4 = Array.from({ length: opts.services + 2 }, (_, i) => hostAddress(plan.ipv4Subnet, 16 + i));
  const vipsV6 = opts.ipv6
    ? Array.from({ length: opts.services + 2 }, (_, i) => hostAddress(plan.ipv6Subnet, 0x100 + i))
    : [];
  const lab = await buildLab({ prefix, nodes: opts.nodes, vips: { ipv4: vipsV4, ipv6: vipsV6 } });
  const server = await startApiServer({ bookmarkIntervalMs: 500 });
  const bridge: ApiBridge = await startApiBridge(prefix, server.port);
  const kubeconfig = `${bridge.socketPath}.kubeconfig`;
  await writeKubeconfigFile(kubeconfig, bridge.serverURL);
  const s = server.store;
  const NS = K8S_LAB_NAMESPACE;
  for (const n of lab.nodes) {
    s.create('nodes', {
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name } },
      status: {
        addresses: [
          { type: 'InternalIP', address: n.ipv4 },
          ...(opts.ipv6 ? [{ type: 'InternalIP', address: n.ipv6 }] : []),
        ],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
  }
  s.create('ipaddresspools.metallb.io', {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name: POOL, namespace: NS, annotations: { ...(opts.poolAnnotations ?? {}) } },
    spec: {
      addresses: [`${vipsV4[0]}-${vipsV4.at(-1)}`, ...(opts.ipv6 ? [`${vipsV6[0]}-${vipsV6.at(-1)}`] : [])],
    },
  });
  s.create('l2advertisements.metallb.io', {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'L2Advertisement',
    metadata: { name: POOL, namespace: NS },
    spec: { ipAddressPools: [POOL] },
  });
  const controller: RunningController = startController({
    kubeConfig: server.makeKubeConfig(),
    namespace: NS,
    logger: createLogger({ level: 'warn', destination: { write: () => {} } }),
  });
  const services = Array.from({ length: opts.services }, (_, i) => `svc${i}`);
  for (const name of services) {
    s.create('services', {
      metadata: { name, namespace: 'default' },
      spec: {
        type: 'LoadBalancer',
        ports: [{ port: 80, protocol: 'TCP' }],
        ...(opts.ipv6 ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } : {}),
      },
    });
  }
  const svcObj = (name: string) => s.get('services', 'default', name) as Svc | undefined;
  const ingress = (name: string) => (svcObj(name)?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip);
  const vipOf = (name: string) => ingress(name).find((ip) => !ip.includes(':')) ?? '';
  const vip6Of = (name: string) => ingress(name).find((ip) => ip.includes(':')) ?? '';
  // metal-vrrp.io/vrids: "ip=vrid,ip=vrid" (one entry per address)
  const vridFor = (name: string, vip: string) => {
    const entries = svcObj(name)?.metadata.annotations?.['metal-vrrp.io/vrids']?.split(',') ?? [];
    return Number(entries.find((e) => e.trim().startsWith(`${vip}=`))?.split('=')[1]);
  };
  const vridOf = (name: string) => vridFor(name, vipOf(name));
  const vrid6Of = (name: string) => vridFor(name, vip6Of(name));
  const waitFor = async <T>(
    what: string,
    fn: () => T | undefined | false | Promise<T | undefined | false>,
    ms = 30_000,
  ): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const served = (n: string) => vipOf(n) && vridOf(n) > 0 && (!opts.ipv6 || (vip6Of(n) && vrid6Of(n) > 0));
  await waitFor('every Service with an IP and a VRID', () => services.every(served), 60_000);
  for (const n of lab.nodes) await bridge.addNamespace(n.ns);
  const speakers = new Map<string, SpeakerProcess>();
  const hostOf = (node: string) => lab.nodes.find((n) => n.name === node)!;
  const startSpeaker = async (node: string) => {
    const args = [
      '--kubeconfig',
      kubeconfig,
      '--node-name',
      node,
      '--namespace',
      NS,
      '--log-level',
      opts.logLevel ?? 'info',
      ...(opts.speakerArgs ?? []),
    ];
    const sp = await startSpeakerProcess(hostOf(node), args, 7472, 'speaker synced with the cluster', 60_000);
    speakers.set(node, sp);
    return sp;
  };
  await Promise.all(lab.nodes.map((n) => startSpeaker(n.name)));
  const l2 = () =>
    s.list('servicel2statuses.metallb.io', { namespace: NS }).items as {
      status?: { node?: string; serviceName?: string };
    }[];
  return {
    lab,
    server,
    speakers,
    services,
    vipOf,
    vridOf,
    vip6Of,
    vrid6Of,
    // The order every speaker computes: routerPriorities over all Services' routers at once (balanced), members =
    // every node, at the pool's interval; a candidate keeps its priority when others are gone.
    rankingOf(service, candidates = lab.nodes.map((n) => n.name)) {
      const members = lab.nodes.map((n) => n.name);
      const pool = s.get('ipaddresspools.metallb.io', NS, POOL) as {
        metadata: { annotations?: Record<string, string> };
      };
      const { advertIntervalCs: intervalCs, placement } = parsePoolTuning(POOL, pool.metadata.annotations).tuning;
      const all = routerPriorities(
        services
          .filter((n) => vipOf(n) !== '' && vridOf(n) > 0)
          .map((n) => ({ key: `ipv4/${vridOf(n)}`, members, intervalCs, placement })),
      );
      const r = all.get(`ipv4/${vridOf(service)}`);
      if (!r || !('priorities' in r)) throw new Error(`no ranking for ${service}`);
      return [...r.priorities]
        .filter(([node]) => candidates.includes(node))
        .map(([node, priority]) => ({ node, priority }))
        .sort((a, b) => b.priority - a.priority);
    },
    masterOf(service) {
      const m = l2().filter((o) => o.status?.serviceName === service);
      return m.length === 1 ? m[0]!.status?.node : undefined;
    },
    hostOf,
    startSpeaker,
    annotatePool(annotations) {
      s.patch('ipaddresspools.metallb.io', NS, POOL, 'merge', { metadata: { annotations } });
    },
    waitFor,
    async stop() {
      for (const sp of speakers.values()) await sp.kill('SIGKILL').catch(() => {});
      await controller.stop();
      await bridge.close();
      await server.close();
      await killTracked(prefix);
      await lab.teardown();
    },
  };
}
