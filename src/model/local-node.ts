/** This node as the speaker's decisions see it: its interface addresses, read from the kernel by src/net. */
import type { Family } from '../../vrrp/advert.ts';

/** LocalAddress is one address of this node's interfaces, as the runtime reads them from the kernel. */
export interface LocalAddress {
  readonly ifname: string;
  readonly address: string;
  readonly prefixLength: number;
}

/** LocalNode is this node: its name, its interface addresses and the default route's interface per family. */
export interface LocalNode {
  readonly name: string;
  readonly addresses: readonly LocalAddress[];
  readonly defaultInterface?: Partial<Record<Family, string>>;
}
