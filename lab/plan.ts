// plan.ts — everything about a lab run that follows from its flags, computed without touching the system: the
// network (the harness's planLab), Kubernetes names, the pool rewritten to the lab subnet, the Services, the
// files under .lab/<prefix>/ and the API server's address.
//
// Where things run: the client namespace (`<prefix>-c`) doubles as the cluster's control-plane host and the
// operator's workstation: the real kube-apiserver + etcd, the controller and the lab's own inner process live there, so the
// node namespaces reach the API over the lab network (as kubelets and DaemonSet pods do), and losing a node never
// takes the control plane with it. Speakers run one per node namespace, with host networking by construction.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostAddress, type LabHost, type LabPlan, planLab } from './netlab/netns.ts';
import type { LabConfig } from './options.ts';

/** REPO is the checkout's root (lab/..). */
export const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** CLI is the metal-vrrp entry every process is started with, as the container image does. */
export const CLI = join(REPO, 'bin', 'metal-vrrp.js');
export const METALLB_NAMESPACE = 'metallb-system';
export const API_PORT = 6443;
/** RESPONDER_PORT is where each node's HTTP responder (a hostNetwork pod's stand-in) listens: the targetPort. */
export const RESPONDER_PORT = 8080;
/** METRICS_PORT is MetalLB's (7472); every process is in its own namespace, so they can share it. */
export const METRICS_PORT = 7472;
/** POOL_FIRST is the host offset of the pool's first address (nodes are .1–.N, the client .254). */
export const POOL_FIRST = 200;

/** LabNode is a lab host that is also a Kubernetes node. */
export interface LabNode {
  readonly host: LabHost;
  readonly nodeName: string; // node-1 …
  readonly kubeconfig: string;
  readonly log: string;
}

/** LabService is one LoadBalancer Service the lab applies; `seed` marks the seed's demo-svc (applied unchanged). */
export interface LabService {
  readonly name: string;
  readonly namespace: string;
  readonly seed: boolean;
  readonly dualStack: boolean;
}

/** RunPlan is a lab run's full plan. */
export interface RunPlan {
  readonly net: LabPlan;
  readonly dir: string;
  readonly apiURL: string;
  /** apiDir holds the API server's etcd data, keys, kubeconfigs and its log (server.log). */
  readonly apiDir: string;
  readonly apiLog: string;
  readonly adminKubeconfig: string;
  readonly controllerKubeconfig: string;
  readonly controllerLog: string;
  readonly nodes: readonly LabNode[];
  readonly services: readonly LabService[];
  readonly poolAddresses: readonly string[];
}

/** planRun derives the run plan from the flags. */
export function planRun(cfg: LabConfig): RunPlan {
  const net = planLab({ prefix: cfg.prefix, nodes: cfg.nodes });
  const dir = join(REPO, '.lab', cfg.prefix);
  const total = cfg.services + 1;
  // The seed's pool holds 5 addresses; keep that size unless more Services need more.
  const size = Math.max(5, total);
  const poolAddresses = [
    `${hostAddress(net.ipv4Subnet, POOL_FIRST)}-${hostAddress(net.ipv4Subnet, POOL_FIRST + size - 1)}`,
  ];
  if (cfg.ipv6) {
    poolAddresses.push(`${hostAddress(net.ipv6Subnet, 0x200)}-${hostAddress(net.ipv6Subnet, 0x200 + size - 1)}`);
  }
  return {
    net,
    dir,
    apiURL: `https://${net.client.ipv4}:${API_PORT}`,
    apiDir: join(dir, 'kube'),
    apiLog: join(dir, 'kube', 'server.log'),
    adminKubeconfig: join(dir, 'kubeconfig'),
    controllerKubeconfig: join(dir, 'kubeconfig-controller'),
    controllerLog: join(dir, 'controller.log'),
    nodes: net.nodes.map((host, i) => ({
      host,
      nodeName: `node-${i + 1}`,
      kubeconfig: join(dir, `kubeconfig-node-${i + 1}`),
      log: join(dir, `speaker-node-${i + 1}.log`),
    })),
    services: [
      { name: 'demo-svc', namespace: 'default', seed: true, dualStack: false },
      ...Array.from({ length: cfg.services }, (_, i) => ({
        name: `web-${i + 1}`,
        namespace: 'default',
        seed: false,
        dualStack: cfg.ipv6,
      })),
    ],
    poolAddresses,
  };
}
