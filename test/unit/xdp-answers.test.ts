/**
 * openXdpAnswers (src/speaker/runtime/xdp-answers.ts) when XDP cannot answer: the kernel refuses the attachment (here:
 * an interface index that does not exist, as a busy or vanished interface would), the speaker logs one warning, gets
 * undefined (so net-ports.ts keeps the native thread's answers) and no counter is registered. Needs root (the program
 * is loaded before the attach fails) and the addon; skipped otherwise.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { createSpeakerMetrics } from '../../src/metrics.ts';
import { xdpAvailable } from '../../src/net/xdp-responder.ts';
import { openXdpAnswers } from '../../src/speaker/runtime/xdp-answers.ts';

const SKIP =
  process.getuid?.() !== 0 ? 'needs root (bpf)' : xdpAvailable() ? false : 'addon not built with the XDP responder';

test('a refused attachment is one warning and undefined: the thread answers', { skip: SKIP }, async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(JSON.parse(l)) } });
  const metrics = createSpeakerMetrics();
  const info = { name: 'gone0', index: 0x7ffffff0, mac: '02:00:00:00:00:09', ipv4: [], ipv6: [], linkLocal: 'fe80::9' };
  const xdp = openXdpAnswers({ info, families: { ipv4: true, ipv6: true }, mode: 'auto', metrics, logger });
  assert.equal(xdp, undefined);
  const warned = lines.filter((l) => l['level'] === 'warn');
  assert.equal(warned.length, 1);
  assert.match(String(warned[0]!['msg']), /native responder thread instead/);
  // The kernel says EINVAL for an index it does not know (BPF_LINK_CREATE); the code is kept for the operator.
  assert.equal((warned[0]!['err'] as { code?: string }).code, 'EINVAL');
  assert.doesNotMatch(await metrics.registry.metrics(), /metal_vrrp_xdp_frames_total\{/);
});
