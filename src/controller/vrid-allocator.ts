/**
 * Virtual Router IDs for VIPs. Each VIP is protected by one VRRP virtual router, named by a VRID of 1..255 (RFC 5798
 * §5.2.3); IPv4 and IPv6 routers are separate protocols with separate VRID spaces (§5), so each family is counted on
 * its own. While VRIDs are free every VIP gets its own; past that, VIPs share routers (one router advertises several
 * addresses), least-loaded first so failover domains stay small, ties to the lowest id so the choice is deterministic.
 */
import type { Family } from '../../vrrp/advert.ts';
import { codedError } from '../errors.ts';
import { isVrid, MAX_VIPS_PER_VRID, type VridRange, type VridResult } from '../model/vrid.ts';

/** VridAllocator hands out VRIDs to VIPs; it is pure bookkeeping, driven by the address allocator. */
export class VridAllocator {
  // family -> vrid -> number of VIPs on that router (index 0 unused)
  private readonly load: Record<Family, Uint16Array> = { ipv4: new Uint16Array(256), ipv6: new Uint16Array(256) };
  // family -> vip text -> vrid
  private readonly byVip: Record<Family, Map<string, number>> = { ipv4: new Map(), ipv6: new Map() };

  /**
   * acquire gives `vip` a VRID in `range`. A VIP that already has one keeps it (Services sharing the address share
   * the router). A `recorded` VRID (from status, at restore) is kept when it lies in the range and its router has
   * room, even if another VIP uses it: stability beats uniqueness, since a changed VRID is a failover. Otherwise the
   * least-loaded VRID of the range wins, ties to the lowest id.
   */
  acquire(family: Family, vip: string, range: VridRange, recorded?: number): VridResult {
    const held = this.byVip[family].get(vip);
    if (held !== undefined) return { ok: true, vrid: held };
    const load = this.load[family];
    const cap = MAX_VIPS_PER_VRID[family];
    const lo = Math.max(1, range.lo);
    const hi = Math.min(255, range.hi);
    let vrid = 0;
    if (isVrid(recorded) && recorded >= lo && recorded <= hi && (load[recorded] ?? 0) < cap) {
      vrid = recorded;
    } else {
      let best = cap;
      for (let id = lo; id <= hi; id++) {
        const l = load[id] ?? 0;
        if (l < best) {
          best = l;
          vrid = id;
          if (l === 0) break;
        }
      }
    }
    if (vrid === 0) {
      return { ok: false, error: codedError('VRID_EXHAUSTED', `${family} ${lo}-${hi}: every router carries ${cap}`) };
    }
    load[vrid] = (load[vrid] ?? 0) + 1;
    this.byVip[family].set(vip, vrid);
    return { ok: true, vrid };
  }

  /** release frees the VIP's VRID; releasing a VIP without one is a no-op. */
  release(family: Family, vip: string): void {
    const vrid = this.byVip[family].get(vip);
    if (vrid === undefined) return;
    this.byVip[family].delete(vip);
    const load = this.load[family];
    load[vrid] = (load[vrid] ?? 1) - 1;
  }

  /** vridOf returns the VIP's VRID, if it has one. */
  vridOf(family: Family, vip: string): number | undefined {
    return this.byVip[family].get(vip);
  }

  /** loadOf is how many VIPs the router `vrid` of `family` carries. */
  loadOf(family: Family, vrid: number): number {
    return this.load[family][vrid] ?? 0;
  }

  /** vips lists the VIPs of a family with their VRIDs (vip -> vrid), for status and tests. */
  vips(family: Family): ReadonlyMap<string, number> {
    return new Map(this.byVip[family]);
  }
}
