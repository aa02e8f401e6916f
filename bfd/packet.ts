/**
 * BFD Control packet fields as typed values (RFC 5880 §4.1). Intervals are in microseconds, as on the wire.
 */

/** SESSION_STATES are the values of the 2-bit State (Sta) field, in wire order (RFC 5880 §4.1). */
export const SESSION_STATES = ['admin-down', 'down', 'init', 'up'] as const;

/** SessionStateName is bfd.SessionState / bfd.RemoteSessionState (RFC 5880 §6.8.1). */
export type SessionStateName = (typeof SESSION_STATES)[number];

/** DIAG names the Diagnostic codes of RFC 5880 §4.1 we send or may receive. */
export const DIAG = {
  none: 0,
  controlDetectionTimeExpired: 1,
  echoFailed: 2,
  neighborSignaledDown: 3,
  forwardingPlaneReset: 4,
  pathDown: 5,
  concatenatedPathDown: 6,
  administrativelyDown: 7,
  reverseConcatenatedPathDown: 8,
} as const;

/** ControlPacket is one BFD Control packet without authentication section (RFC 5880 §4.1). */
export interface ControlPacket {
  /** diag is the 5-bit Diagnostic: the sender's reason for its last state change. */
  readonly diag: number;
  readonly state: SessionStateName;
  /** poll (P): the sender asks for a Final (§6.5). */
  readonly poll: boolean;
  /** final (F): answer to a Poll (§6.5). */
  readonly final: boolean;
  /** controlPlaneIndependent (C): always false from us: our BFD shares fate with the control plane. */
  readonly controlPlaneIndependent: boolean;
  /** authenticationPresent (A): we never send it; received, it is decoded so the session can drop it (§6.8.6). */
  readonly authenticationPresent: boolean;
  /** demand (D): the sender wants Demand mode (§6.6); we never ask for it. */
  readonly demand: boolean;
  /** multipoint (M): reserved, must be 0 (§4.1); the codec refuses it. */
  readonly multipoint: boolean;
  readonly detectMult: number;
  readonly myDiscriminator: number;
  readonly yourDiscriminator: number;
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly requiredMinEchoRxUs: number;
}
