/**
 * The BFD engine's public API (RFC 5880 asynchronous mode, RFC 5881 single hop): the Control packet codec, the
 * session state machine and its config, and the timing formulas. Sockets live in src/net/bfd-socket.ts and the
 * N-session runtime in src/net/bfd-peers.ts.
 */

export * from './codec.ts';
export * from './packet.ts';
export * from './session.ts';
export * from './session-config.ts';
export * from './timing.ts';
