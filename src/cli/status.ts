/**
 * `metal-vrrp status`: which node is master of each VIP, kubectl-style (or `-o json`). It lists the objects once,
 * computes the same router groups every speaker computes (VRID, tuning, the ranking over the eligible nodes: preferred
 * nodes by score, then the placement), and takes the master from the ServiceL2Status objects the speakers write, and
 * which nodes health excludes or lowers from the speakers' health Leases (k8s/node-health-lease.ts). Without the
 * right to list Leases it still answers, without the HEALTH column's facts, and says so on stderr.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { realClock } from '../clock.ts';
import { loadKubeConfig, makeClients } from '../k8s/clients.ts';
import { listCluster } from '../k8s/list-cluster.ts';
import { listNodeHealth } from '../k8s/node-health-lease.ts';
import { snapshotOf } from '../model/cluster-objects.ts';
import { healthNotesByVip, type NodeHealthEntry } from '../model/node-health-report.ts';
import { routerGroups } from '../speaker/cluster/desired-routers.ts';
import { buildStatusRows, renderStatusJson, renderStatusTable, type StatusRow } from '../status/table.ts';

/** StatusArgs are the command's options after parsing. */
export interface StatusArgs {
  readonly kubeconfig: string | undefined;
  readonly namespace: string;
  readonly output: 'table' | 'json';
  readonly lbClass: string;
}

/** collectStatus lists the cluster through `kubeconfig` and builds the rows. */
export async function collectStatus(
  args: Omit<StatusArgs, 'output'>,
  warn: (line: string) => void = () => {},
): Promise<StatusRow[]> {
  const clients = makeClients(loadKubeConfig(args.kubeconfig));
  const [listed, health] = await Promise.all([
    listCluster(clients, args.namespace),
    listNodeHealth(clients.kubeConfig, args.namespace).catch((err: unknown): NodeHealthEntry[] => {
      warn(`metal-vrrp status: health not shown, cannot list Leases: ${(err as Error)?.message ?? String(err)}`);
      return [];
    }),
  ]);
  const { snapshot } = snapshotOf(listed, args.lbClass);
  const { groups } = routerGroups(snapshot);
  return buildStatusRows({
    services: snapshot.services,
    l2Statuses: listed.l2Statuses,
    groups,
    pools: snapshot.pools,
    health: healthNotesByVip(health, realClock.wallNow()),
  });
}

async function handler(args: ArgumentsCamelCase<StatusArgs>): Promise<void> {
  let rows: StatusRow[];
  try {
    rows = await collectStatus(args, (line) => process.stderr.write(`${line.split('\n')[0]}\n`));
  } catch (err) {
    process.stderr.write(`metal-vrrp status: cannot read the cluster: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(args.output === 'json' ? renderStatusJson(rows) : renderStatusTable(rows, realClock.wallNow()));
}

/** statusCommand is the yargs module of `metal-vrrp status`. */
export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'show which node is VRRP master of each load-balancer VIP',
  builder: (y: Argv) =>
    y
      .option('kubeconfig', { type: 'string', describe: 'kubeconfig file (default: in-cluster, then $KUBECONFIG)' })
      .option('namespace', {
        alias: 'n',
        type: 'string',
        default: 'metallb-system',
        describe: 'namespace of the IPAddressPools, L2Advertisements and ServiceL2Statuses',
      })
      .option('output', { alias: 'o', choices: ['table', 'json'] as const, default: 'table' as const })
      .option('lb-class', {
        type: 'string',
        default: '',
        describe: 'the --lb-class the controller and speakers run with (empty: Services with no class)',
      }) as unknown as Argv<StatusArgs>,
  handler,
};
