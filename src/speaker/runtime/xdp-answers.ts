/**
 * openXdpAnswers puts the XDP responder (src/net/xdp-responder.ts) on the speaker's interface for `--xdp-answers`:
 * ARP requests and neighbour solicitations for the VIPs mastered here are answered by XDP_TX in the softirq that
 * received them. The speaker's `answering` hook hands it the VIPs at the moment it hands them to the native thread,
 * which keeps running behind it for what the program passes on (a DAD probe, unusual NS options) and for the
 * solicited-node memberships. Counters: metal_vrrp_xdp_frames_total{family, interface, outcome}, and its answers also
 * in metal_vrrp_arp_replies_total / metal_vrrp_ndp_replies_total, at every scrape.
 *
 * A refusal (no CAP_BPF, a kernel without XDP links, another XDP program on the interface — a CNI's) is logged as a
 * warning and the speaker goes on with the thread's answers: a missing fast path must not stop a node announcing.
 */

import type { Logger } from '../../log.ts';
import type { SpeakerMetrics } from '../../metrics.ts';
import type { AnswerFamilies } from '../../net/answer-set.ts';
import type { InterfaceInfo } from '../../net/interface-info.ts';
import { type XdpAttachMode, type XdpCounter, XdpResponder, type XdpStats } from '../../net/xdp-responder.ts';

/** XdpAnswersDeps: the interface and its families, the mode, where counters and log lines go. */
export interface XdpAnswersDeps {
  readonly info: InterfaceInfo;
  readonly families: AnswerFamilies;
  readonly mode: XdpAttachMode;
  readonly metrics: SpeakerMetrics;
  readonly logger: Logger;
}

/** XdpAnswers: set the VIPs answered for; close detaches the program. */
export interface XdpAnswers {
  readonly mode: 'native' | 'generic';
  answerFor(vips: readonly string[]): void;
  close(): void;
}

// counter -> the metric's family and outcome
const SERIES: Record<XdpCounter, { family: 'ipv4' | 'ipv6'; outcome: string }> = {
  arpAnswered: { family: 'ipv4', outcome: 'answered' },
  ndpAnswered: { family: 'ipv6', outcome: 'answered' },
  arpPassed: { family: 'ipv4', outcome: 'passed' },
  ndpPassed: { family: 'ipv6', outcome: 'passed' },
  arpResizeFailed: { family: 'ipv4', outcome: 'resize-failed' },
  ndpResizeFailed: { family: 'ipv6', outcome: 'resize-failed' },
};

/** openXdpAnswers: see the file comment. Returns undefined (after one warning) when XDP cannot answer here. */
export function openXdpAnswers(deps: XdpAnswersDeps): XdpAnswers | undefined {
  const { info, families, metrics, logger } = deps;
  const log = { interface: info.name, requested: deps.mode };
  let responder: XdpResponder | undefined;
  let mode: 'native' | 'generic';
  try {
    responder = XdpResponder.create(
      { mac: info.mac, ...(info.linkLocal === undefined ? {} : { linkLocal: info.linkLocal }) },
      families,
    );
    mode = responder.attach(info.index, deps.mode);
  } catch (err) {
    responder?.close();
    logger.warn({ ...log, err }, 'XDP answers refused: ARP/NDP answered by the native responder thread instead');
    return undefined;
  }
  logger.info({ ...log, mode }, 'ARP/NDP answered by XDP');

  let seen: XdpStats | undefined;
  const sync = () => {
    if (responder === undefined) return;
    const now = responder.stats();
    for (const [counter, { family, outcome }] of Object.entries(SERIES) as [
      XdpCounter,
      (typeof SERIES)[XdpCounter],
    ][]) {
      const d = now[counter] - (seen?.[counter] ?? 0);
      if (d <= 0) continue;
      metrics.xdpFrames.inc({ family, interface: info.name, outcome }, d);
      if (outcome === 'answered')
        (family === 'ipv4' ? metrics.arpReplies : metrics.ndpReplies).inc({ interface: info.name }, d);
    }
    seen = now;
  };
  const removeCollector = metrics.addCollector(sync);
  return {
    mode,
    answerFor: (vips) => {
      try {
        responder?.answerFor(vips);
      } catch (err) {
        // The map refused a change (full, out of memory): those VIPs are passed on and the thread answers them.
        logger.warn({ interface: info.name, err }, 'XDP VIP map not updated: the native thread answers instead');
      }
    },
    close: () => {
      sync();
      removeCollector();
      responder?.close();
      responder = undefined;
    },
  };
}
