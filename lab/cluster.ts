// cluster.ts — the lab's cluster: the real kube-apiserver + etcd (lab/kube/server.ts) in the client namespace, bound
// to the client's lab address (the nodes reach it over the lab network, as kubelets and DaemonSet pods do), with
// metal-vrrp's CRDs and RBAC from the kustomize render of manifests/; kubeconfig files: the operator's (admin), the
// controller's and the speakers' (their ServiceAccounts, TokenRequest tokens), kube-proxy's (system:node-proxier);
// the Node objects, the seed's objects (pool rewritten to the lab subnet) and more Services with the EndpointSlices
// of the nodes' HTTP responders (no kubelet here: the lab writes them, as the endpoint controller would for pods).
// Everything is written through the real REST API with @kubernetes/client-node, as kubectl apply would; runs in the
// inner process (client namespace).
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  type V1Service,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { TUNING_ANNOTATIONS } from '../src/model/pool-tuning.ts';
import { grantKubeProxy } from './kube/kube-proxy.ts';
import { DUAL_STACK_SERVICE_RANGES, type KubeServer, startKubeServer } from './kube/server.ts';
import type { LabConfig } from './options.ts';
import { API_PORT, type LabService, METALLB_NAMESPACE, REPO, RESPONDER_PORT, type RunPlan } from './plan.ts';
import type { ManagedProcess } from './processes.ts';

const SEED_DIR = join(REPO, 'lab', 'seed');

/** Cluster is the running API server, an admin client for it and kube-proxy's kubeconfig. */
export interface Cluster {
  readonly server: KubeServer;
  readonly kc: KubeConfig;
  readonly objects: KubernetesObjectApi;
  readonly core: CoreV1Api;
  readonly kubeProxyKubeconfig: string;
}

/** startCluster starts the real API server on the client's lab address (its data under the run's dir, so --keep
 * keeps it and the next run's clean-up removes it), waits until it is ready with metal-vrrp's objects installed, and
 * writes the kubeconfig files. */
export async function startCluster(plan: RunPlan, cfg: LabConfig): Promise<Cluster> {
  const server = await startKubeServer({
    ...(cfg.ipv6 ? { serviceClusterIPRange: DUAL_STACK_SERVICE_RANGES } : {}),
    name: `lab-${plan.net.prefix}`,
    bindAddress: plan.net.client.ipv4,
    port: API_PORT,
    dataDir: plan.apiDir,
    installMetalVrrp: true,
  });
  copyFileSync(server.adminKubeconfig, plan.adminKubeconfig);
  copyFileSync(await server.serviceAccountKubeconfig(METALLB_NAMESPACE, 'controller'), plan.controllerKubeconfig);
  // One DaemonSet, one ServiceAccount: every speaker authenticates as metallb-system:speaker.
  const speaker = await server.serviceAccountKubeconfig(METALLB_NAMESPACE, 'speaker');
  for (const n of plan.nodes) copyFileSync(speaker, n.kubeconfig);
  const kubeProxyKubeconfig = await grantKubeProxy(server, server.url);
  const kc = new KubeConfig();
  kc.loadFromFile(server.adminKubeconfig);
  return {
    server,
    kc,
    objects: KubernetesObjectApi.makeApiClient(kc),
    core: kc.makeApiClient(CoreV1Api),
    kubeProxyKubeconfig,
  };
}

/** createNodes registers one Node per lab node: InternalIP(s) on the lab subnet, Ready, hostname label. */
export async function createNodes(cluster: Cluster, plan: RunPlan, cfg: LabConfig): Promise<void> {
  for (const n of plan.nodes) {
    const addresses = [
      { type: 'InternalIP', address: n.host.ipv4 },
      ...(cfg.ipv6 ? [{ type: 'InternalIP', address: n.host.ipv6 }] : []),
      { type: 'Hostname', address: n.nodeName },
    ];
    const node = await cluster.core.createNode({
      body: {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: n.nodeName,
          labels: { 'kubernetes.io/hostname': n.nodeName, 'kubernetes.io/os': 'linux' },
        },
      },
    });
    const now = new Date();
    node.status = {
      addresses,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'lab node',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
    };
    await cluster.core.replaceNodeStatus({ name: n.nodeName, body: node });
  }
}

/** seedObjects reads the seed's three files and rewrites only the pool's addresses (and, when asked, its advert
 * interval annotation); everything else applies as a MetalLB user wrote it. */
export function seedObjects(plan: RunPlan, cfg: LabConfig): KubernetesObject[] {
  const out: KubernetesObject[] = [];
  for (const file of ['ip-pool.yaml', 'advertise.yaml', 'demoLB.yaml']) {
    for (const doc of parseAllDocuments(readFileSync(join(SEED_DIR, file), 'utf8'))) {
      const obj = doc.toJS() as KubernetesObject & { spec?: Record<string, unknown> };
      if (!obj) continue;
      if (obj.kind === 'IPAddressPool') {
        obj.spec = { ...obj.spec, addresses: [...plan.poolAddresses] };
        if (cfg.advertInterval !== null) {
          obj.metadata = {
            ...obj.metadata,
            annotations: { ...obj.metadata?.annotations, [TUNING_ANNOTATIONS.advertInterval]: cfg.advertInterval },
          };
        }
      }
      out.push(obj);
    }
  }
  return out;
}

/** extraObjects are the lab's own Services (like the seed's demo-svc) and per Service the EndpointSlices of the
 * nodes' responders (one per family), each ready, as a Deployment spread over the nodes would give. */
export function extraObjects(plan: RunPlan): KubernetesObject[] {
  const out: KubernetesObject[] = [];
  for (const svc of plan.services) {
    if (!svc.seed) out.push(serviceObject(svc));
    out.push(endpointSliceObject(svc, plan, 'IPv4'));
    if (svc.dualStack) out.push(endpointSliceObject(svc, plan, 'IPv6'));
  }
  return out;
}

function serviceObject(svc: LabService): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: svc.name, namespace: svc.namespace },
    spec: {
      selector: { app: svc.name },
      ports: [{ protocol: 'TCP', port: 80, targetPort: RESPONDER_PORT }],
      type: 'LoadBalancer',
      ...(svc.dualStack ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } : {}),
    },
  } as KubernetesObject;
}

function endpointSliceObject(svc: LabService, plan: RunPlan, family: 'IPv4' | 'IPv6'): KubernetesObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${svc.name}-lab-${family.toLowerCase()}`,
      namespace: svc.namespace,
      labels: { 'kubernetes.io/service-name': svc.name, 'endpointslice.kubernetes.io/managed-by': 'lab' },
    },
    addressType: family,
    ports: [{ name: '', protocol: 'TCP', port: RESPONDER_PORT }],
    endpoints: plan.nodes.map((n) => ({
      addresses: [family === 'IPv4' ? n.host.ipv4 : n.host.ipv6],
      nodeName: n.nodeName,
      conditions: { ready: true, serving: true, terminating: false },
    })),
  } as KubernetesObject;
}

/** applyAll creates each object in order (the server starts empty, so create is apply). */
export async function applyAll(cluster: Cluster, objects: readonly KubernetesObject[]): Promise<void> {
  for (const obj of objects) {
    try {
      await cluster.objects.create(obj);
    } catch (err) {
      throw new Error(`applying ${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}: ${errText(err)}`);
    }
  }
}

/** Allocation is what the controller wrote on a Service. */
export interface Allocation {
  readonly service: string;
  readonly namespace: string;
  readonly ips: readonly string[];
  readonly annotations: Readonly<Record<string, string>>;
}

/** waitForAllocations polls the Services until each lab Service has an ingress IP for each of its families, and
 * returns what was allocated; on timeout it throws naming the Services still pending. */
export async function waitForAllocations(
  cluster: Cluster,
  plan: RunPlan,
  timeoutMs: number,
  stillAlive: () => string | null,
): Promise<Allocation[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await cluster.core.listServiceForAllNamespaces();
    const byKey = new Map(list.items.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s] as const));
    const out: Allocation[] = [];
    const pending: string[] = [];
    for (const svc of plan.services) {
      const s = byKey.get(`${svc.namespace}/${svc.name}`);
      const ips = ingressIPs(s);
      const want = svc.dualStack ? 2 : 1;
      if (ips.length < want) pending.push(svc.name);
      else out.push({ service: svc.name, namespace: svc.namespace, ips, annotations: s?.metadata?.annotations ?? {} });
    }
    if (pending.length === 0) return out;
    const dead = stillAlive();
    if (dead !== null) throw new Error(dead);
    if (Date.now() > deadline) throw new Error(`no IP after ${timeoutMs} ms for: ${pending.join(', ')}`);
    await sleep(100);
  }
}

/** L2Master is which node the speakers' ServiceL2Status objects name for a Service. */
export interface L2Master {
  readonly service: string;
  readonly namespace: string;
  readonly node: string;
}

/** readL2Statuses lists MetalLB's ServiceL2Status objects (the speakers write them; issue 6). */
export async function readL2Statuses(cluster: Cluster): Promise<L2Master[]> {
  const list = await cluster.objects.list<KubernetesObject & { status?: Record<string, unknown> }>(
    'metallb.io/v1beta1',
    'ServiceL2Status',
  );
  return list.items.flatMap((o) => {
    const st = o.status ?? {};
    const node = st['node'];
    const service = st['serviceName'];
    if (typeof node !== 'string' || typeof service !== 'string') return [];
    return [{ service, namespace: String(st['serviceNamespace'] ?? ''), node }];
  });
}

/** serviceEvents lists the last 10 Events about a Service, oldest first, as `kubectl describe` shows them. */
export async function serviceEvents(cluster: Cluster, a: Allocation): Promise<string[]> {
  try {
    const list = await cluster.core.listNamespacedEvent({
      namespace: a.namespace,
      fieldSelector: `involvedObject.name=${a.service},involvedObject.kind=Service`,
    });
    return list.items.slice(-10).map((e) => {
      const from = e.source?.component ?? e.reportingComponent ?? '';
      const count = (e.count ?? 1) > 1 ? ` (x${e.count})` : '';
      return `${e.type ?? ''} ${e.reason ?? ''} ${from}: ${e.message ?? ''}${count}`;
    });
  } catch (err) {
    return [`(events: ${errText(err)})`];
  }
}

/** ingressIPs reads status.loadBalancer.ingress[].ip. */
function ingressIPs(s: V1Service | undefined): string[] {
  return (s?.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
}

/** waitHttpOk polls url until it answers 200; fails early, with the log tail, when the process exits. */
export async function waitHttpOk(url: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running()) throw new Error(`${proc.name} exited (${proc.exitText()}):\n${proc.logTail()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${proc.name} did not answer ${url} within ${timeoutMs} ms:\n${proc.logTail()}`);
    }
    await sleep(100);
  }
}

/** errText turns a client-node ApiException (body holds the Status) or any error into one line. */
export function errText(err: unknown): string {
  if (err && typeof err === 'object' && 'body' in err) {
    const body = (err as { body: unknown }).body;
    try {
      const st = typeof body === 'string' ? (JSON.parse(body) as { message?: string }) : (body as { message?: string });
      if (st?.message) return st.message;
    } catch {
      // not JSON
    }
  }
  return err instanceof Error ? err.message : String(err);
}
