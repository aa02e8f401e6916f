/**
 * The virtual router ids the controller recorded on a Service, one per VIP, in the annotation `metal-vrrp.io/vrids`:
 * `"192.0.2.10=7,2001:db8::10=7"`. Speakers read it to know which router carries each VIP; humans read it in
 * `kubectl describe`. VIP → VRID pairs (rather than one VRID per family) because routers are shared only past 255 VIPs
 * and the pair is what the controller's VridAllocator holds. Addresses are compared in canonical text.
 */
import { canonicalIp } from '../../vrrp/ip.ts';
import { isVrid } from './vrid.ts';

/** SERVICE_VRIDS_ANNOTATION is written by the controller and read by speakers and `metal-vrrp status`. */
export const SERVICE_VRIDS_ANNOTATION = 'metal-vrrp.io/vrids';

/** ServiceVrids maps each VIP (canonical text) to its VRID. */
export type ServiceVrids = ReadonlyMap<string, number>;

/** parseServiceVrids reads the annotation; an empty value is no VRIDs; any bad entry makes the whole value invalid. */
export function parseServiceVrids(text: string): { readonly vrids: ServiceVrids } | { readonly error: string } {
  const vrids = new Map<string, number>();
  if (text.trim() === '') return { vrids };
  for (const part of text.split(',')) {
    const eq = part.lastIndexOf('=');
    const ip = eq < 0 ? undefined : canonicalIp(part.slice(0, eq).trim());
    const id = eq < 0 ? Number.NaN : Number(part.slice(eq + 1).trim());
    if (ip === undefined || !/^\s*\d+\s*$/.test(part.slice(eq + 1)) || !isVrid(id)) {
      return { error: `"${part.trim()}" is not address=vrid (vrid 1..255)` };
    }
    if (vrids.has(ip)) return { error: `address ${ip} is listed twice` };
    vrids.set(ip, id);
  }
  return { vrids };
}

/** formatServiceVrids writes the annotation value, addresses in the order given. */
export function formatServiceVrids(vrids: Iterable<readonly [string, number]>): string {
  return [...vrids].map(([ip, id]) => `${ip}=${id}`).join(',');
}
