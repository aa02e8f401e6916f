// planSpecs plans engine-field router descriptions into RouterSpecs as the product's planners do (planRouterSpec),
// for tests that drive the runtime directly: interface eth0, multicast, the default announcements unless given.
import type { AuthKeys } from '../../src/model/auth-secret.ts';
import type { Sources } from '../../src/model/local-node.ts';
import { DEFAULT_POOL_TUNING, type GratuitousTuning } from '../../src/model/pool-tuning.ts';
import { planRouterSpec, type RouterSpec, type RouterSpecInput } from '../../src/speaker/router-spec.ts';

/** EngineFields are the fields a test varies. */
export type EngineFields = Pick<
  RouterSpecInput,
  'vrid' | 'family' | 'priority' | 'advertIntervalCs' | 'preempt' | 'preemptDelayMs' | 'vips'
>;

/** planSpecs plans every router or throws with the planner's errors (a test setup bug). */
export function planSpecs(
  routers: readonly EngineFields[],
  sources: Sources,
  extra: {
    readonly gratuitous?: GratuitousTuning;
    readonly peers?: readonly string[];
    readonly candidateSources?: readonly string[];
    readonly auth?: AuthKeys;
  } = {},
): RouterSpec[] {
  return routers.map((r) => {
    const peers = (extra.peers ?? []).filter((p) => p.includes(':') === (r.family === 'ipv6'));
    const res = planRouterSpec(
      {
        ...r,
        interface: 'eth0',
        peerMode: peers.length > 0 ? 'unicast' : 'multicast',
        peers,
        gratuitous: extra.gratuitous ?? DEFAULT_POOL_TUNING.gratuitous,
        ...(extra.candidateSources
          ? { candidateSources: extra.candidateSources.filter((p) => p.includes(':') === (r.family === 'ipv6')) }
          : {}),
        ...(extra.auth ? { auth: extra.auth } : {}),
      },
      sources,
    );
    if ('errors' in res) throw new Error(res.errors.join('; '));
    return res.spec;
  });
}
