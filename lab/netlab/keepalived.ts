// keepalived.ts — run Debian's keepalived 2.2 as a real VRRPv3 peer inside a lab node (NETLAB-NOTES: `-n -l -P`,
// its own pid files). keepalived forks a VRRP child even with -n (don't daemonize): both pids are tracked, so a
// "node loss" kills the child that speaks VRRP as well as the parent. keepalived puts its VIPs on eth0 when it is
// master, so the node's kernel answers ARP for them; SIGKILL leaves them there, so node loss must also set the link
// down (or remove the VIP).
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { labPrefixOf, pidFile, procStartTime, spawnIn } from './exec.ts';
import type { LabHost } from './netns.ts';

/** KeepalivedOptions: one IPv4 VRRPv3 instance. */
export interface KeepalivedOptions {
  readonly vrid: number;
  readonly priority: number;
  readonly vips: readonly string[];
  readonly prefixLen: number;
  readonly advertIntervalMs: number;
  readonly preempt?: boolean;
}

/** keepalivedConf renders the config. Pure. Garp settings mirror our speaker's 3 announcements. */
export function keepalivedConf(host: LabHost, o: KeepalivedOptions): string {
  return `global_defs {
  vrrp_version 3
  router_id ${host.name}
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 3
  vrrp_garp_interval 0.1
  vrrp_gna_interval 0.1
  script_user root
  enable_script_security
}
vrrp_instance VI_${o.vrid} {
  state BACKUP
  interface ${host.ifname}
  virtual_router_id ${o.vrid}
  priority ${o.priority}
  advert_int ${o.advertIntervalMs / 1000}
  ${o.preempt === false ? 'nopreempt' : ''}
  virtual_ipaddress {
${o.vips.map((v) => `    ${v}/${o.prefixLen} dev ${host.ifname}`).join('\n')}
  }
}
`;
}

/** KeepalivedProcess is a running keepalived; `lines` are its log lines (-l: to stderr/console). */
export interface KeepalivedProcess {
  readonly host: LabHost;
  readonly child: ChildProcess;
  readonly lines: string[];
  /** times[i] is when the harness read lines[i] (epoch ms). */
  readonly times: number[];
  /** vrrpPid is the VRRP child's pid (from its pid file), once it has written it. */
  vrrpPid(): number | undefined;
  /** waitForLine resolves with the first line matching `re` at index `from` (default 0) or later. */
  waitForLine(re: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** waitForLineSince is waitForLine from the first line read at or after `since` (epoch ms). */
  waitForLineSince(re: RegExp, since: number, timeoutMs?: number): Promise<string>;
  /** kill: SIGTERM asks keepalived to resign (priority 0); SIGKILL kills parent and VRRP child at once. */
  kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/** startKeepalived starts keepalived in the host's namespace and resolves once its VRRP child is running. */
export async function startKeepalived(host: LabHost, o: KeepalivedOptions): Promise<KeepalivedProcess> {
  const dir = `/run/metal-vrrp-lab/${host.ns}`;
  mkdirSync(dir, { recursive: true });
  const conf = `${dir}/keepalived.conf`;
  const pid = `${dir}/keepalived.pid`;
  const vrrpPidFile = `${dir}/keepalived-vrrp.pid`;
  writeFileSync(conf, keepalivedConf(host, o));
  // A killed keepalived leaves its pid files; its VRRP child may linger as a zombie, which keepalived takes for a
  // running daemon ("daemon is already running"), and a stale file would give us the old pid.
  rmSync(pid, { force: true });
  rmSync(vrrpPidFile, { force: true });
  const child = spawnIn(host.ns, ['keepalived', '-n', '-l', '-P', '-f', conf, '-p', pid, '-r', vrrpPidFile]);
  const lines: string[] = [];
  const times: number[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (l: string) => void }>();
  const onData = (d: string) => {
    for (const line of d.split('\n')) {
      if (line === '') continue;
      lines.push(line);
      times.push(Date.now());
      for (const w of waiters) {
        if (w.re.test(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  };
  child.stdout?.setEncoding('utf8').on('data', onData);
  child.stderr?.setEncoding('utf8').on('data', onData);
  const exited = once(child, 'exit');
  const waitForLine = (re: RegExp, ms = 10_000, from = 0) => {
    const seen = lines.slice(from).find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const w = {
        re,
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`keepalived in ${host.ns}: no line ${re} within ${ms} ms:\n${lines.slice(-20).join('\n')}`));
      }, ms);
      waiters.add(w);
    });
  };
  const readPid = (): number | undefined => {
    try {
      const n = Number(readFileSync(vrrpPidFile, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  // Wait for the VRRP child, then record it in the lab's pid file so a crashed run's teardown stops it too.
  let vrrp: number | undefined;
  for (let i = 0; i < 500 && vrrp === undefined; i++) {
    if (child.exitCode !== null) throw new Error(`keepalived exited ${child.exitCode}:\n${lines.join('\n')}`);
    await sleep(10);
    vrrp = readPid();
  }
  if (vrrp === undefined) throw new Error(`keepalived in ${host.ns} wrote no VRRP pid:\n${lines.join('\n')}`);
  const prefix = labPrefixOf(host.ns);
  if (prefix !== null)
    appendFileSync(pidFile(prefix), `${vrrp} ${procStartTime(vrrp) ?? 0} ${host.ns} keepalived-vrrp\n`);
  return {
    host,
    child,
    lines,
    times,
    waitForLineSince: (re, since, ms) => {
      const from = times.findIndex((t) => t >= since);
      return waitForLine(re, ms, from < 0 ? lines.length : from);
    },
    vrrpPid: () => vrrp,
    waitForLine,
    async kill(signal) {
      const alive = child.exitCode === null && child.signalCode === null;
      if (signal === 'SIGKILL') {
        for (const p of [vrrp!, child.pid!]) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      } else if (alive) process.kill(child.pid!, 'SIGTERM');
      if (alive) await exited;
      // The VRRP child is not ours to reap: wait until it is gone (or a zombie of init).
      for (let i = 0; i < 300 && procStartTime(vrrp!) !== null && !isZombie(vrrp!); i++) await sleep(10);
    },
  };
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}
