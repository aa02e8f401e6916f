// k8s-lab.ts — a Kubernetes-mode cluster on a netns LAN for the network tests and benches: the real kube-apiserver +
// etcd (server.ts) on 127.0.0.1, reached from the node namespaces through the api-bridge (a forwarder on each node's
// 127.0.0.1:6443 to a Unix socket: no lab traffic leaves the namespaces); metal-vrrp's CRDs and RBAC from the
// kustomize render of manifests/; Node objects with their InternalIPs; one pool and its L2Advertisement;
// LoadBalancer Services; per node the REAL kube-proxy in nftables mode (kube-proxy.ts) and an HTTP responder on
// <node address>:8080 standing for a hostNetwork pod, whose EndpointSlices the lab writes (there is no kubelet or
// endpoint controller); the real controller in this process and one `metal-vrrp speaker` process per node. The
// controller, the speakers and kube-proxy authenticate as their ServiceAccounts with TokenRequest tokens, so the
// shipped RBAC is what they get. `curl http://VIP/` from the client goes: speaker's ARP answer → node → kube-proxy's
// nftables DNAT → a responder, which answers "<its node> via <node the connection came through>".
//
// `ipvsAddresses: true` also gives the nodes what kube-proxy's IPVS mode would add (lab/netlab/kube-proxy.ts): every
// pool address on kube-ipvs0 and strictARP. nftables mode needs neither (see kube-proxy.ts's header), but without
// them no node answers ICMP echo for a VIP: the tests that measure gaps with ping ask for them.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { type RunningController, startController } from '../../src/cli/controller.ts';
import { createLogger } from '../../src/log.ts';
import { parsePoolTuning } from '../../src/model/pool-tuning.ts';
import { routerPriorities } from '../../vrrp/priority.ts';
import { type ApiBridge, startApiBridge } from '../netlab/api-bridge.ts';
import { killTracked } from '../netlab/exec.ts';
import { type HttpResponder, startHttpResponder } from '../netlab/http-responder.ts';
import { emulateKubeProxy } from '../netlab/kube-proxy.ts';
import { buildLab, hostAddress, type Lab, type LabHost, planLab, teardownByPrefix } from '../netlab/netns.ts';
import { type SpeakerProcess, startSpeakerProcess } from '../netlab/speaker.ts';
import { grantKubeProxy, type KubeProxyProcess, startKubeProxy } from './kube-proxy.ts';
import { KubeMirror, MIRROR_KINDS, type MirrorKey, type Obj } from './mirror.ts';
import { DUAL_STACK_SERVICE_RANGES, type KubeServer, startKubeServer } from './server.ts';

export const K8S_LAB_NAMESPACE = 'metallb-system';
const NS = K8S_LAB_NAMESPACE;
export const POOL = 'lab';
/** RESPONDER_PORT is where each node's responder (a hostNetwork pod's stand-in) listens: the Services' targetPort. */
export const RESPONDER_PORT = 8080;

/** LabService is one LoadBalancer Service the lab creates, with an EndpointSlice of responders. */
export interface LabService {
  readonly name: string;
  readonly externalTrafficPolicy?: 'Cluster' | 'Local';
  /** endpointNodes: the nodes with a ready endpoint (default every node); [] writes a slice with no endpoint. */
  readonly endpointNodes?: readonly string[];
}

/** K8sLabOptions: namespace prefix, nodes, Services (a count names them svc0…), pool size and annotations, extra
 * speaker flags; `startSpeakers: false` leaves starting them to the test. */
export interface K8sLabOptions {
  readonly prefix: string;
  readonly nodes: number;
  readonly services: number | readonly LabService[];
  /** vips: how many addresses the pool holds, from .100 up, or lower when they do not fit (default services + 2). */
  readonly vips?: number;
  readonly poolAnnotations?: Readonly<Record<string, string>>;
  readonly speakerArgs?: readonly string[];
  /** speakerNodeArgs: node's own flags for the speakers (default the image's, lab/netlab/image-flags.ts). */
  readonly speakerNodeArgs?: readonly string[];
  readonly logLevel?: string;
  readonly startSpeakers?: boolean;
  /** ipvsAddresses: add what IPVS mode would (pool addresses on kube-ipvs0, strictARP); default false. */
  readonly ipvsAddresses?: boolean;
  /** ipv6: dual stack: the pool gets an IPv6 range too, Services require both families (EndpointSlices of both),
   * kube-proxy forwards IPv6 as well. (Nodes always list both InternalIPs.) */
  readonly ipv6?: boolean;
  /** ipv4Subnet: the LAN's IPv4 subnet (default a /24 of the prefix). In a larger one the pool starts at .100 of the
   * second /24: room for more than 150 Services. */
  readonly ipv4Subnet?: string;
}

/** K8sLab is the running cluster; stop() removes everything it made. */
export interface K8sLab {
  readonly lab: Lab;
  readonly server: KubeServer;
  readonly bridge: ApiBridge;
  /** mirror: synchronous reads of Services, Nodes, EndpointSlices, pools, L2Advertisements, ServiceL2Statuses. */
  readonly mirror: KubeMirror;
  readonly core: CoreV1Api;
  readonly objects: KubernetesObjectApi;
  readonly speakers: Map<string, SpeakerProcess>; // node name -> speaker
  readonly kubeProxies: Map<string, KubeProxyProcess>; // node name -> kube-proxy
  readonly services: readonly string[];
  /** speakerKubeconfig: ServiceAccount metallb-system/speaker, for processes in the node namespaces. */
  readonly speakerKubeconfig: string;
  readonly adminKubeconfig: string;
  service(name: string, namespace?: string): Obj | undefined;
  vipOf(service: string): string;
  vridOf(service: string): number;
  /** vip6Of and vrid6Of: the Service's IPv6 address and router (ipv6 labs; '' and NaN otherwise). */
  vip6Of(service: string): string;
  vrid6Of(service: string): number;
  /** l2Statuses lists the ServiceL2Status objects (the speakers write them). */
  l2Statuses(): Obj[];
  /** mastersOf lists the nodes the Service's ServiceL2Status objects name. */
  mastersOf(service: string): string[];
  /** masterOf is the node named by the Service's ServiceL2Status, when exactly one. */
  masterOf(service: string): string | undefined;
  /** rankingOf is the rendezvous order of `candidates` for a Service's IPv4 router, with priorities (members: every
   * node, or for a Local Service the nodes of its endpoints). */
  rankingOf(service: string, candidates?: readonly string[]): { node: string; priority: number }[];
  hostOf(node: string): LabHost;
  startSpeaker(node: string, extraArgs?: readonly string[]): Promise<SpeakerProcess>;
  startKubeProxy(node: string): Promise<KubeProxyProcess>;
  stopKubeProxy(node: string): Promise<void>;
  createService(svc: LabService): Promise<void>;
  deleteService(name: string): Promise<void>;
  /** setEndpoints rewrites a Service's EndpointSlice: ready endpoints on exactly these nodes. */
  setEndpoints(service: string, nodes: readonly string[]): Promise<void>;
  /** mergePatch applies a JSON merge patch to an object (namespace '' for cluster-scoped kinds). */
  mergePatch(key: MirrorKey, namespace: string, name: string, patch: object): Promise<void>;
  annotatePool(annotations: Readonly<Record<string, string>>): Promise<void>;
  /** events lists the core/v1 Events of a namespace, oldest first. */
  events(namespace: string): Promise<{ reason: string; message: string; involvedObject: string }[]>;
  /** stopApi stops the API server's process (etcd's data kept): an outage; startApi brings it back. */
  stopApi(): Promise<void>;
  startApi(): Promise<void>;
  waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms?: number): Promise<T>;
  stop(): Promise<void>;
}

/** waitFor polls fn every 50 ms until it returns something truthy, or throws after ms. */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** startK8sLab builds the LAN and the cluster, starts kube-proxy and the responders on every node, waits until every
 * Service has an address and a VRID, then starts every speaker unless told not to (resolves once all have synced). */
export async function startK8sLab(opts: K8sLabOptions): Promise<K8sLab> {
  const prefix = opts.prefix;
  await teardownByPrefix(prefix);
  const subnet = opts.ipv4Subnet === undefined ? {} : { ipv4Subnet: opts.ipv4Subnet };
  const plan = planLab({ prefix, nodes: opts.nodes, ...subnet });
  const specs: LabService[] =
    typeof opts.services === 'number'
      ? Array.from({ length: opts.services }, (_, i) => ({ name: `svc${i}` }))
      : [...opts.services];
  const count = opts.vips ?? specs.length + 2;
  // From .100 of the first /24 (the hosts' own addresses are .1-.99 and the client .254), or of the second /24 in a
  // larger subnet, where many VIPs would otherwise run into the client's address. In a /24 a pool too large for that
  // starts lower, down to just above the nodes.
  const first4 = plan.prefixLen4 < 24 ? 256 + 100 : Math.max(plan.nodes.length + 1, Math.min(100, 254 - count));
  const vipsV4 = Array.from({ length: count }, (_, i) => hostAddress(plan.ipv4Subnet, first4 + i));
  const vipsV6 = opts.ipv6 ? Array.from({ length: count }, (_, i) => hostAddress(plan.ipv6Subnet, 0x100 + i)) : [];
  const lab = await buildLab({ prefix, nodes: opts.nodes, vips: { ipv4: vipsV4, ipv6: vipsV6 }, ...subnet });
  const cleanups: (() => Promise<unknown>)[] = [() => lab.teardown(), () => killTracked(prefix)];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    return await build();
  } catch (err) {
    await cleanup();
    throw err;
  }

  async function build(): Promise<K8sLab> {
    if (opts.ipvsAddresses ?? false) await emulateKubeProxy(lab);
    const server = await startKubeServer({
      name: prefix,
      installMetalVrrp: true,
      ...(opts.ipv6 ? { serviceClusterIPRange: DUAL_STACK_SERVICE_RANGES } : {}),
    });
    cleanups.push(() => server.stop());
    const bridge = await startApiBridge(prefix, Number(new URL(server.url).port));
    cleanups.push(() => bridge.close());
    for (const n of lab.nodes) await bridge.addNamespace(n.ns);
    const nodeURL = bridge.secureServerURL;
    const admin = new KubeConfig();
    admin.loadFromFile(server.adminKubeconfig);
    const core = admin.makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(admin);
    const create = async (obj: object) => {
      await objects.create(obj as KubernetesObject);
    };

    for (const n of lab.nodes) {
      const node = await core.createNode({
        body: { metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux' } } },
      });
      const now = new Date();
      node.status = {
        addresses: [
          { type: 'InternalIP', address: n.ipv4 },
          { type: 'InternalIP', address: n.ipv6 },
          { type: 'Hostname', address: n.name },
        ],
        conditions: [
          { type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now },
        ],
      };
      await core.replaceNodeStatus({ name: n.name, body: node });
    }
    const mirror = await KubeMirror.start(admin);
    cleanups.push(() => mirror.stop());

    // kube-proxy and the responders first, as on a cluster whose pods run before the load balancer is installed.
    const proxyKubeconfig = await grantKubeProxy(server, nodeURL);
    const kubeProxies = new Map<string, KubeProxyProcess>();
    const startProxy = async (node: string) => {
      const p = await startKubeProxy(hostOf(node), proxyKubeconfig, { ipv6: opts.ipv6 ?? false });
      kubeProxies.set(node, p);
      return p;
    };
    await Promise.all(lab.nodes.map((n) => startProxy(n.name)));
    const peers = Object.fromEntries(
      lab.nodes.flatMap((n) => [
        [n.ipv4, n.name],
        [n.ipv6, n.name],
      ]),
    );
    const responders: HttpResponder[] = await Promise.all(
      lab.nodes.map((n) => startHttpResponder(n, { port: RESPONDER_PORT, peers })),
    );
    cleanups.push(async () => {
      for (const r of responders) await r.stop();
    });

    await create({
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: POOL, namespace: NS, annotations: { ...(opts.poolAnnotations ?? {}) } },
      spec: {
        addresses: [
          vipsV4.length === 1 ? `${vipsV4[0]}/32` : `${vipsV4[0]}-${vipsV4.at(-1)}`,
          ...(opts.ipv6 ? [vipsV6.length === 1 ? `${vipsV6[0]}/128` : `${vipsV6[0]}-${vipsV6.at(-1)}`] : []),
        ],
      },
    });
    await create({
      apiVersion: 'metallb.io/v1beta1',
      kind: 'L2Advertisement',
      metadata: { name: POOL, namespace: NS },
      spec: { ipAddressPools: [POOL] },
    });
    const controllerConfig = new KubeConfig();
    controllerConfig.loadFromFile(await server.serviceAccountKubeconfig(NS, 'controller'));
    const controller: RunningController = startController({
      kubeConfig: controllerConfig,
      namespace: NS,
      logger: createLogger({ level: 'warn', destination: { write: () => {} } }),
      backoff: { baseMs: 100, maxMs: 1000 },
    });
    cleanups.push(() => controller.stop());

    const slice = (name: string, nodes: readonly string[], family: 'IPv4' | 'IPv6' = 'IPv4') => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: family === 'IPv4' ? `${name}-lab` : `${name}-lab-ipv6`,
        namespace: 'default',
        labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'lab' },
      },
      addressType: family,
      ports: [{ name: '', protocol: 'TCP', port: RESPONDER_PORT }],
      endpoints: nodes.map((node) => ({
        addresses: [family === 'IPv4' ? hostOf(node).ipv4 : hostOf(node).ipv6],
        nodeName: node,
        conditions: { ready: true, serving: true, terminating: false },
      })),
    });
    const createService = async (svc: LabService) => {
      const nodes = svc.endpointNodes ?? lab.nodes.map((n) => n.name);
      await create(slice(svc.name, nodes));
      if (opts.ipv6) await create(slice(svc.name, nodes, 'IPv6'));
      await create({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: svc.name, namespace: 'default' },
        spec: {
          type: 'LoadBalancer',
          ports: [{ port: 80, targetPort: RESPONDER_PORT, protocol: 'TCP' }],
          ...(svc.externalTrafficPolicy ? { externalTrafficPolicy: svc.externalTrafficPolicy } : {}),
          ...(opts.ipv6 ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } : {}),
        },
      });
    };
    for (const svc of specs) await createService(svc);
    const services = specs.map((s) => s.name);

    const service = (name: string, namespace = 'default') => mirror.get('services', namespace, name);
    const ingress = (name: string) =>
      ((service(name)?.status?.['loadBalancer'] as { ingress?: { ip?: string }[] } | undefined)?.ingress ?? []).map(
        (i) => i.ip ?? '',
      );
    const vipOf = (name: string) => ingress(name).find((ip) => ip !== '' && !ip.includes(':')) ?? '';
    const vip6Of = (name: string) => ingress(name).find((ip) => ip.includes(':')) ?? '';
    // metal-vrrp.io/vrids: "ip=vrid,ip=vrid" (one entry per address)
    const vridFor = (name: string, vip: string) => {
      const entries = service(name)?.metadata.annotations?.['metal-vrrp.io/vrids']?.split(',') ?? [];
      return Number(entries.find((e) => e.trim().startsWith(`${vip}=`))?.split('=')[1]);
    };
    const vridOf = (name: string) => vridFor(name, vipOf(name));
    const vrid6Of = (name: string) => vridFor(name, vip6Of(name));
    const served = (n: string) => vipOf(n) && vridOf(n) > 0 && (!opts.ipv6 || (vip6Of(n) && vrid6Of(n) > 0));
    await waitFor('every Service with an IP and a VRID', () => services.every(served), 60_000);

    const speakerKubeconfig = await server.serviceAccountKubeconfig(NS, 'speaker', { server: nodeURL });
    const speakers = new Map<string, SpeakerProcess>();
    cleanups.push(async () => {
      for (const sp of speakers.values()) await sp.kill('SIGKILL').catch(() => {});
    });
    function hostOf(node: string): LabHost {
      const h = lab.nodes.find((n) => n.name === node);
      if (!h) throw new Error(`no node ${node}`);
      return h;
    }
    const startSpeaker = async (node: string, extraArgs: readonly string[] = []) => {
      const args = [
        '--kubeconfig',
        speakerKubeconfig,
        '--node-name',
        node,
        '--namespace',
        NS,
        '--log-level',
        opts.logLevel ?? 'info',
        ...(opts.speakerArgs ?? []),
        ...extraArgs,
      ];
      const sp = await startSpeakerProcess(
        hostOf(node),
        args,
        7472,
        'speaker synced with the cluster',
        60_000,
        opts.speakerNodeArgs,
      );
      speakers.set(node, sp);
      return sp;
    };
    if (opts.startSpeakers ?? true) await Promise.all(lab.nodes.map((n) => startSpeaker(n.name)));

    const l2Statuses = () => mirror.list('servicel2statuses', NS);
    const mastersOf = (svc: string) =>
      l2Statuses()
        .filter((o) => o.status?.['serviceName'] === svc)
        .map((o) => String(o.status?.['node']));
    const mergePatch = async (key: MirrorKey, namespace: string, name: string, patch: object) => {
      const k = MIRROR_KINDS[key];
      const meta = (patch as { metadata?: object }).metadata ?? {};
      const spec = {
        apiVersion: k.apiVersion,
        kind: k.kind,
        ...patch,
        metadata: { ...meta, name, ...(namespace ? { namespace } : {}) },
      } as KubernetesObject;
      await objects.patch(spec, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
    };
    return {
      lab,
      server,
      bridge,
      mirror,
      core,
      objects,
      speakers,
      kubeProxies,
      services,
      speakerKubeconfig,
      adminKubeconfig: server.adminKubeconfig,
      service,
      vipOf,
      vridOf,
      vip6Of,
      vrid6Of,
      l2Statuses,
      mastersOf,
      masterOf(svc) {
        const m = mastersOf(svc);
        return m.length === 1 ? m[0] : undefined;
      },
      // The order every speaker computes: routerPriorities over all Services' routers at once (balanced), members =
      // every node (a Local Service's: the nodes of its ready endpoints), at the pool's interval; a candidate keeps
      // its priority when others are gone.
      rankingOf(name, candidates = lab.nodes.map((n) => n.name)) {
        const pool = mirror.get('ipaddresspools', NS, POOL);
        const { advertIntervalCs: intervalCs, placement } = parsePoolTuning(
          POOL,
          pool?.metadata.annotations ?? {},
        ).tuning;
        const membersOf = (svc: string) => {
          const all = lab.nodes.map((n) => n.name);
          if (service(svc)?.spec?.['externalTrafficPolicy'] !== 'Local') return all;
          const eps = mirror
            .list('endpointslices', 'default')
            .filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc)
            .flatMap((s) => (s['endpoints'] as { nodeName?: string; conditions?: { ready?: boolean } }[]) ?? [])
            .filter((e) => e.conditions?.ready !== false)
            .map((e) => e.nodeName ?? '');
          return all.filter((n) => eps.includes(n));
        };
        const names = mirror
          .list('services', 'default')
          .map((o) => o.metadata.name)
          .filter((n) => vipOf(n) !== '' && vridOf(n) > 0);
        const all = routerPriorities(
          names.map((n) => ({ key: `ipv4/${vridOf(n)}`, members: membersOf(n), intervalCs, placement })),
        );
        const r = all.get(`ipv4/${vridOf(name)}`);
        if (!r || !('priorities' in r)) throw new Error(`no ranking for ${name}`);
        return [...r.priorities]
          .filter(([node]) => candidates.includes(node))
          .map(([node, priority]) => ({ node, priority }))
          .sort((a, b) => b.priority - a.priority);
      },
      hostOf,
      startSpeaker,
      startKubeProxy: startProxy,
      async stopKubeProxy(node) {
        await kubeProxies.get(node)?.stop();
        kubeProxies.delete(node);
      },
      createService,
      async deleteService(name) {
        await core.deleteNamespacedService({ namespace: 'default', name });
        await objects.delete(slice(name, []) as KubernetesObject).catch(() => {});
        if (opts.ipv6) await objects.delete(slice(name, [], 'IPv6') as KubernetesObject).catch(() => {});
      },
      async setEndpoints(svc, nodes) {
        await mergePatch('endpointslices', 'default', `${svc}-lab`, { endpoints: slice(svc, nodes).endpoints });
      },
      mergePatch,
      async annotatePool(annotations) {
        await mergePatch('ipaddresspools', NS, POOL, { metadata: { annotations } });
      },
      async events(namespace) {
        const list = await core.listNamespacedEvent({ namespace });
        return list.items
          .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
          .map((e) => ({
            reason: e.reason ?? '',
            message: e.message ?? '',
            involvedObject: e.involvedObject.name ?? '',
          }));
      },
      stopApi: () => server.down(),
      startApi: () => server.up(),
      waitFor,
      stop: cleanup,
    };
  }
}
