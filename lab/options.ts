// options.ts — the lab's flags, parsed once and frozen. The same argv is handed from the outer process (root
// namespace) to the inner one (client namespace), so both parse it with this one function.
import { resolve } from 'node:path';
import yargs from 'yargs';
import { advertIntervalCs, parseDuration } from '../src/model/duration.ts';

/** LabConfig is what one lab run does. `advertIntervalMs` is null when the pool keeps the default (100 ms). */
export interface LabConfig {
  readonly prefix: string;
  readonly nodes: number;
  readonly services: number;
  readonly advertInterval: string | null;
  readonly advertIntervalMs: number;
  readonly ipv6: boolean;
  readonly json: boolean;
  /** jsonFile: absolute path the result is written to, or null. */
  readonly jsonFile: string | null;
  readonly keep: boolean;
  readonly drill: boolean;
  readonly down: boolean;
}

/** DEFAULT_ADVERT_INTERVAL_MS is the speaker's default when the pool sets no interval (issue 6). */
export const DEFAULT_ADVERT_INTERVAL_MS = 100;
const PREFIX_RE = /^[a-z0-9][a-z0-9-]{0,20}$/;

/** parseLabArgs parses argv (without node and the script); throws with a readable message on bad flags. */
export function parseLabArgs(argv: readonly string[]): LabConfig {
  const a = yargs([...argv])
    .scriptName('npm run lab --')
    .usage(
      '$0 [flags]\n\nThe whole metal-vrrp system on this machine: network namespaces, the real kube-apiserver and kube-proxy, controller, speakers.',
    )
    .option('nodes', { type: 'number', default: 3, describe: 'Kubernetes nodes (namespaces), each with a speaker' })
    .option('services', { type: 'number', default: 3, describe: 'LoadBalancer Services besides the seed demo-svc' })
    .option('advert-interval', { type: 'string', describe: 'VRRP advert interval set on the pool, e.g. 100ms, 1s' })
    .option('ipv6', { type: 'boolean', default: false, describe: 'dual stack: the pool gets an IPv6 range too' })
    .option('json', { type: 'boolean', default: false, describe: 'print a machine-readable result on stdout' })
    .option('json-file', {
      type: 'string',
      describe: 'also write the machine-readable result to this file (stdout stays human-readable)',
    })
    .option('keep', { type: 'boolean', default: false, describe: 'leave the lab running when done' })
    .option('drill', { type: 'boolean', default: true, describe: 'run the failover drill (--no-drill skips it)' })
    .option('down', { type: 'boolean', default: false, describe: 'only tear down a lab left by --keep, then exit' })
    .option('prefix', { type: 'string', default: 'mvlab', describe: 'namespace name prefix (PREFIX-n1, PREFIX-c …)' })
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseSync();
  const nodes = a.nodes;
  const services = a.services;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20) throw new Error(`--nodes must be 1..20, got ${nodes}`);
  if (!Number.isInteger(services) || services < 0 || services > 50) {
    throw new Error(`--services must be 0..50, got ${services}`);
  }
  if (!PREFIX_RE.test(a.prefix)) throw new Error(`--prefix must match ${PREFIX_RE}, got ${a.prefix}`);
  let advertIntervalMs = DEFAULT_ADVERT_INTERVAL_MS;
  const advertInterval = a['advert-interval'] ?? null;
  if (advertInterval !== null) {
    const ms = parseDuration(advertInterval);
    if (ms === undefined) throw new Error(`--advert-interval: ${advertInterval} is not a duration (100ms, 1s)`);
    const cs = advertIntervalCs(ms);
    if ('error' in cs) throw new Error(`--advert-interval: ${cs.error}`);
    advertIntervalMs = ms;
  }
  return Object.freeze({
    prefix: a.prefix,
    nodes,
    services,
    advertInterval,
    advertIntervalMs,
    ipv6: a.ipv6,
    json: a.json,
    // Relative to where `npm run lab` was typed (npm's INIT_CWD; run.ts passes it on to the inner process).
    jsonFile: a['json-file'] === undefined ? null : resolve(process.env['INIT_CWD'] ?? process.cwd(), a['json-file']),
    keep: a.keep,
    drill: a.drill,
    down: a.down,
  });
}
