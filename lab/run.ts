// run.ts — `npm run lab`: the whole metal-vrrp system on this machine. This outer process (root namespace) cleans
// what an earlier run with the same prefix left (also one killed with -9), builds the network namespaces, runs
// inside.ts in the client namespace, and tears everything down when that ends, on Ctrl-C / SIGTERM, or when it
// fails — unless --keep. The teardown is by exact namespace names and recorded pids (lab/netlab).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnIn } from './netlab/exec.ts';
import { buildLab, teardownByPrefix } from './netlab/netns.ts';
import { type LabConfig, parseLabArgs } from './options.ts';
import { planRun, REPO } from './plan.ts';
import { LAB_T0_ENV, Progress } from './report.ts';

const argv = process.argv.slice(2);
const out = (cfg: LabConfig | null) => (cfg?.json ? process.stderr : process.stdout);

function parse(): LabConfig {
  try {
    const cfg = parseLabArgs(argv);
    if (argv.includes('--help') || argv.includes('-h')) process.exit(0);
    return cfg;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}

/** teardown removes the lab and says what it removed. */
async function teardown(cfg: LabConfig, why: string): Promise<void> {
  const r = await teardownByPrefix(cfg.prefix);
  const what = `${r.namespaces.length} namespaces, ${r.killed.length} processes`;
  out(cfg).write(`lab ${why}: removed ${what} (${Math.round(r.ms)} ms)\n`);
}

async function main(): Promise<number> {
  const cfg = parse();
  if (process.getuid?.() !== 0) {
    process.stderr.write('the lab builds network namespaces: run it as root (sudo npm run lab)\n');
    return 1;
  }
  const t0 = Date.now();
  const before = await teardownByPrefix(cfg.prefix);
  if (before.namespaces.length + before.killed.length > 0) {
    out(cfg).write(
      `cleaned what an earlier run left: ${before.namespaces.length} namespaces, ${before.killed.length} processes\n`,
    );
  }
  if (cfg.down) {
    out(cfg).write(`lab ${cfg.prefix} is down\n`);
    return 0;
  }
  const plan = planRun(cfg);
  rmSync(plan.dir, { recursive: true, force: true });
  mkdirSync(plan.dir, { recursive: true });

  let stopping: Promise<void> | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    out(cfg).write(`\n${sig}: tearing the lab down\n`);
    // teardownByPrefix also stops the inner process: it lives in the client namespace.
    stopping = teardown(cfg, 'stopped').finally(() => process.exit(130));
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  try {
    const lab = await buildLab({ prefix: cfg.prefix, nodes: cfg.nodes });
    new Progress(cfg.json, t0).step(
      `network: switch ${lab.switchNs}, nodes ${lab.nodes.map((n) => n.ns).join(' ')}, client ${lab.client.ns}; ` +
        `${lab.ipv4Subnet}${cfg.ipv6 ? ` + ${lab.ipv6Subnet}` : ''} (${Math.round(lab.buildMs)} ms)`,
    );
    const inner = spawnIn(
      lab.client.ns,
      [process.execPath, '--import', 'tsx', join(REPO, 'lab', 'inside.ts'), ...argv],
      {
        stdio: 'inherit',
        cwd: REPO,
        env: { ...process.env, [LAB_T0_ENV]: String(t0), INIT_CWD: process.env['INIT_CWD'] ?? process.cwd() },
      },
    );
    const code = await new Promise<number>((resolve) => {
      inner.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1)));
      inner.once('error', () => resolve(1));
    });
    if (stopping) {
      await stopping;
      return 130;
    }
    if (cfg.keep) {
      if (code !== 0) {
        const down = `npm run lab -- --down${cfg.prefix === 'mvlab' ? '' : ` --prefix ${cfg.prefix}`}`;
        out(cfg).write(`the failed lab is left running (--keep); tear it down with: ${down}\n`);
      }
      return code;
    }
    await teardown(cfg, `done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return code;
  } catch (err) {
    process.stderr.write(`lab failed: ${(err as Error).message}\n`);
    if (stopping) await stopping;
    else if (!cfg.keep) await teardown(cfg, 'failed');
    return 1;
  }
}

process.exit(await main());
