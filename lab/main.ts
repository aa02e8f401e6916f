/**
 * `npm run lab` entry point. For now it runs the engine's simulated-LAN demo (lab/sim-demo.ts); the real-kernel lab
 * takes this file over when it lands, and the demo stays in its own file.
 */

import { runSimDemo, simDemoPassed } from './sim-demo.ts';

const result = runSimDemo();
for (const line of result.lines) console.log(line);
if (!simDemoPassed(result)) {
  console.error('sim demo: a measured figure differs from the RFC figure (lines marked MISMATCH)');
  process.exitCode = 1;
}
