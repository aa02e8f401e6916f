/** This node as the speaker's decisions see it: its interface addresses, read from the kernel by src/net. */
import type { Family } from '../../vrrp/advert.ts';

/** LocalAddress is one address of this node's interfaces, as the runtime reads them from the kernel. */
export interface LocalAddress {
  readonly ifname: string;
  readonly address: string;
  readonly prefixLength: number;
}

/** Sources are an interface's advert source per family: its first IPv4 address and its IPv6 link-local (§5.1.2.1). */
export type Sources = Partial<Record<Family, string>>;

/**
 * LocalNode is this node: its name, its interface addresses (no link-local, no host routes), the default route's
 * interface per family, and each interface's advert sources (ifname -> sources).
 */
export interface LocalNode {
  readonly name: string;
  readonly addresses: readonly LocalAddress[];
  readonly defaultInterface?: Partial<Record<Family, string>>;
  readonly sources: ReadonlyMap<string, Sources>;
}
