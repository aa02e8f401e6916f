/**
 * Rendezvous (highest-random-weight) hashing: every node scores every virtual router with a hash of (router key, node
 * name), and a router's node order is by score, best first. Each router has its own order, independent of the other
 * routers and of which other nodes exist, so removing a node changes only the routers it led. The hash is our own,
 * fixed forever: every speaker must compute the same order, whatever its process, platform or version.
 */

const utf8 = new TextEncoder();

/** fmix32 is MurmurHash3's finalizer: every input bit flips each output bit with probability ≈ 1/2. */
function fmix32(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * hrwScore is the rendezvous weight of `node` for `routerKey`: a 53-bit integer (exact in a double). Two 32-bit lanes
 * run over the UTF-8 bytes — FNV-1a and a second multiply-xor lane with another multiplier — then are crossed and
 * finished with fmix32. The key is length-prefixed so ("ab", "c") and ("a", "bc") hash differently.
 */
export function hrwScore(routerKey: string, node: string): number {
  const bytes = utf8.encode(`${routerKey.length}:${routerKey}:${node}`);
  let a = 0x811c9dc5; // FNV-1a offset basis
  let b = 0x6a09e667; // second lane: fractional bits of √2
  for (const x of bytes) {
    a = Math.imul(a ^ x, 0x01000193); // FNV prime
    b = Math.imul(b ^ x, 0x5bd1e995); // MurmurHash2 multiplier
  }
  const hi = fmix32(a ^ Math.imul(b, 0x9e3779b1));
  const lo = fmix32(b ^ hi);
  return (hi >>> 11) * 2 ** 32 + lo;
}

/** rankNodes orders nodes best first for `routerKey`: highest score, ties (astronomically rare) by name. */
export function rankNodes(routerKey: string, nodes: readonly string[]): string[] {
  const scored = nodes.map((node) => ({ node, score: hrwScore(routerKey, node) }));
  scored.sort((x, y) => y.score - x.score || (x.node < y.node ? -1 : x.node > y.node ? 1 : 0));
  return scored.map((s) => s.node);
}
