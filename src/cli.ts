/**
 * metal-vrrp command line: one yargs program, one module per command under src/cli/. Command modules are imported
 * only when their command runs: the controller and `status` pull in @kubernetes/client-node, which a standalone
 * speaker must not pay for in memory. To add a command, write src/cli/<name>.ts exporting a yargs CommandModule and
 * append a loader to COMMANDS.
 */

import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';

// biome-ignore lint/suspicious/noExplicitAny: yargs command modules differ in their argument types
type AnyCommand = CommandModule<any, any>;

/** LazyCommand names a command for `--help` and loads its module when it is the one to run. */
export interface LazyCommand {
  readonly name: string;
  readonly describe: string;
  readonly load: () => Promise<AnyCommand>;
}

/** COMMANDS are the sub-commands, in the order `--help` lists them. */
export const COMMANDS: readonly LazyCommand[] = [
  {
    name: 'speaker',
    describe: 'run the VRRP speaker: Kubernetes mode, or standalone with --config file.yaml',
    load: async () => (await import('./cli/speaker.ts')).speakerCommand,
  },
  {
    name: 'controller',
    describe: 'run the controller: addresses for LoadBalancer Services from MetalLB IPAddressPools',
    load: async () => (await import('./cli/controller.ts')).controllerCommand,
  },
  {
    name: 'status',
    describe: 'show which node is VRRP master of each load-balancer VIP',
    load: async () => (await import('./cli/status.ts')).statusCommand,
  },
];

/**
 * buildCli is the yargs program over `argv` (without node and script), for tests to parse without exiting. The
 * command named first in `argv` is loaded whole (options, handler); the others are listed by name and summary.
 */
export async function buildCli(argv: readonly string[]) {
  const wanted = argv.find((a) => !a.startsWith('-'));
  let program = yargs([...argv]).scriptName('metal-vrrp');
  for (const c of COMMANDS) {
    const stub: AnyCommand = { command: c.name, describe: c.describe, handler: () => {} }; // never run: not in argv
    program = program.command(c.name === wanted ? await c.load() : stub);
  }
  return program.demandCommand(1, 'name a command').strict().help().alias('help', 'h').version(false);
}

await (await buildCli(hideBin(process.argv))).parseAsync();
