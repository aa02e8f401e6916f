import { familyOf } from '../../../vrrp/ip.ts';
import type { Sources } from '../../model/local-node.ts';
import { planRouterSpec, type RouterSpec } from '../router-spec.ts';
import type { StandaloneConfig } from './standalone-config.ts';

/**
 * standaloneSpecs plans the config's routers on an interface with these advert sources: the one planning step of
 * standalone mode (the Kubernetes mode's is desiredRouters). Speaker-wide settings (announcements, unicast peers)
 * become each router's own.
 */
export function standaloneSpecs(
  config: StandaloneConfig,
  sources: Sources,
): { readonly specs: readonly RouterSpec[] } | { readonly errors: readonly string[] } {
  const specs: RouterSpec[] = [];
  const errors: string[] = [];
  for (const router of config.routers) {
    const peers = config.unicastPeers.filter((p) => familyOf(p) === router.family);
    const planned = planRouterSpec(
      {
        ...router,
        interface: config.interface,
        peerMode: peers.length > 0 ? 'unicast' : 'multicast',
        peers,
        gratuitous: config.gratuitous,
        ...(config.auth ? { auth: config.auth } : {}),
      },
      sources,
    );
    if ('errors' in planned) errors.push(...planned.errors);
    else specs.push(planned.spec);
  }
  return errors.length > 0 ? { errors } : { specs };
}
