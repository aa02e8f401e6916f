/**
 * metal-vrrp command line: one yargs program, one module per command under src/cli/. To add a command, write
 * src/cli/<name>.ts exporting a yargs CommandModule and append it to COMMANDS.
 */

import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { controllerCommand } from './cli/controller.ts';
import { speakerCommand } from './cli/speaker.ts';
import { statusCommand } from './cli/status.ts';

/** COMMANDS are the sub-commands, in the order `--help` lists them. */
// biome-ignore lint/suspicious/noExplicitAny: yargs command modules differ in their argument types
export const COMMANDS: readonly CommandModule<any, any>[] = [speakerCommand, controllerCommand, statusCommand];

/** buildCli is the yargs program over `argv` (without node and script), for tests to parse without exiting. */
export function buildCli(argv: readonly string[]) {
  let program = yargs([...argv]).scriptName('metal-vrrp');
  for (const command of COMMANDS) program = program.command(command);
  return program.demandCommand(1, 'name a command').strict().help().alias('help', 'h').version(false);
}

await buildCli(hideBin(process.argv)).parseAsync();
