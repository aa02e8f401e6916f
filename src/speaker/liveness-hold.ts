/**
 * livenessHold: how long a backup adds to Skew_Time when the liveness signal says its master is gone (vrrp/router.ts,
 * `peer-down` `holdMs`), so backups told at different moments still claim in rank order. The count of candidates
 * ranked above this node (the dead node aside) whose own liveness session is still Up: each of them may claim first,
 * and is given vrrp/timing.ts livenessHoldMs to do so. The best surviving backup holds 0 and is not delayed; a
 * candidate above whose session is down (dead too, or never up) is not waited for.
 */
import { livenessHoldMs } from '../../vrrp/timing.ts';
import type { RankedNode } from './router-spec.ts';

/** LivenessHoldInput: the router's ranking, this node, the node that went down, who is Up, the liveness interval. */
export interface LivenessHoldInput {
  readonly ranking: readonly RankedNode[];
  readonly self: string;
  readonly dead: string | undefined;
  readonly isUp: (node: string) => boolean;
  readonly intervalMs: number;
}

/** livenessHold: see the file comment. 0 when this node is not in the ranking (standalone mode has none). */
export function livenessHold(input: LivenessHoldInput): number {
  const at = input.ranking.findIndex((r) => r.node === input.self);
  if (at <= 0) return 0;
  let liveAhead = 0;
  for (const r of input.ranking.slice(0, at)) if (r.node !== input.dead && input.isUp(r.node)) liveAhead++;
  return livenessHoldMs(liveAhead, input.intervalMs);
}
