/**
 * openNativeAnswers starts the addon's ARP/NDP answering thread on one interface (src/net/native-neighbor-responder.ts)
 * for the speaker: the speaker's `answering` hook hands it the VIPs mastered here, its counters reach the same metrics
 * the JS responders feed (metal_vrrp_arp_replies_total, metal_vrrp_ndp_replies_total,
 * metal_vrrp_neighbor_requests_dropped_total) at every scrape. The thread asks for SCHED_FIFO at a low priority, so an
 * answer waits neither for the event loop nor behind normal tasks; without CAP_SYS_NICE it runs as a normal thread
 * and says so once. Returns undefined when the addon has no native responder (the JS responders answer then).
 */

import type { Logger } from '../../log.ts';
import type { SpeakerMetrics } from '../../metrics.ts';
import type { AnswerFamilies } from '../../net/answer-set.ts';
import type { InterfaceInfo } from '../../net/interface-info.ts';
import {
  FAMILY_REASONS,
  NativeNeighborResponder,
  type NativeReason,
  nativeResponderAvailable,
} from '../../net/native-neighbor-responder.ts';

/** NEIGHBOR_RT_PRIORITY: SCHED_FIFO 1, the lowest real-time priority: ahead of normal tasks, behind any other RT work. */
export const NEIGHBOR_RT_PRIORITY = 1;

/** NativeAnswersDeps: the interface and the families its routers use, where counters and the log line go. */
export interface NativeAnswersDeps {
  readonly info: InterfaceInfo;
  readonly families: AnswerFamilies;
  readonly metrics: SpeakerMetrics;
  readonly logger: Logger;
  /** rtPriority: SCHED_FIFO priority of the thread, 0 for none (default NEIGHBOR_RT_PRIORITY). */
  readonly rtPriority?: number;
}

/** NativeAnswers: set the VIPs answered for, join a VIP's solicited-node group, stop. */
export interface NativeAnswers {
  answerFor(vips: readonly string[]): void;
  listenFor(ip: string): void;
  close(): void;
}

/** openNativeAnswers: see the file comment. Throws PacketSocketError when the sockets cannot be opened. */
export function openNativeAnswers(deps: NativeAnswersDeps): NativeAnswers | undefined {
  const { info, families, metrics, logger } = deps;
  if (!nativeResponderAvailable()) return undefined;
  const responder = NativeNeighborResponder.create(
    { mac: info.mac, ...(info.linkLocal === undefined ? {} : { linkLocal: info.linkLocal }) },
    families,
  );
  let rt: ReturnType<NativeNeighborResponder['start']>;
  try {
    rt = responder.start(info.index, families, deps.rtPriority ?? NEIGHBOR_RT_PRIORITY);
  } catch (err) {
    responder.close();
    throw err;
  }
  const log = { interface: info.name, realtime: rt.realtime };
  if (rt.error === null) logger.info(log, 'ARP/NDP answered by the native responder thread');
  // The shipped DaemonSet grants no CAP_SYS_NICE (README, "Real-time priority"): expected, so info, not warn.
  else
    logger.info(
      { ...log, err: rt.error },
      'ARP/NDP answered by the native responder thread without real-time priority (no CAP_SYS_NICE): answers may wait behind other tasks under load',
    );

  // Counters: the thread's totals, added to the metrics as deltas at every scrape.
  const famList = (['ipv4', 'ipv6'] as const).filter((f) => families[f]);
  const seen = { ipv4: new Map<NativeReason, number>(), ipv6: new Map<NativeReason, number>() };
  for (const family of famList) {
    for (const reason of FAMILY_REASONS[family]) metrics.neighborDrops.inc({ family, interface: info.name, reason }, 0);
  }
  const sync = () => {
    const stats = responder.stats();
    for (const family of famList) {
      const delta = (reason: NativeReason) => {
        const now = stats[family][reason] ?? 0;
        const d = now - (seen[family].get(reason) ?? 0);
        seen[family].set(reason, now);
        return d;
      };
      const answered = delta('answered');
      if (answered > 0)
        (family === 'ipv4' ? metrics.arpReplies : metrics.ndpReplies).inc({ interface: info.name }, answered);
      for (const reason of FAMILY_REASONS[family]) {
        const d = delta(reason);
        if (d > 0) metrics.neighborDrops.inc({ family, interface: info.name, reason }, d);
      }
    }
  };
  const removeCollector = metrics.addCollector(sync);
  return {
    answerFor: (vips) => responder.answerFor(vips),
    listenFor: (ip) => void responder.listenFor(ip),
    close: () => {
      sync();
      removeCollector();
      responder.close();
    },
  };
}
