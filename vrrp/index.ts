/**
 * The VRRPv3 engine's public API: timing formulas, the virtual-router state machine, its config, rendezvous
 * priorities, then the shared vocabulary and the packet codec. The simulated LAN (vrrp/sim/) is test and lab tooling
 * and is imported from its own path.
 */

export * from './advert.ts';
export * from './codec.ts';
export * from './placement.ts';
export * from './priority.ts';
export * from './router.ts';
export * from './router-config.ts';
export * from './timing.ts';
