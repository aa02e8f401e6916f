/**
 * RouterHost is what the Kubernetes-mode speaker needs of the data plane: run, change and drop virtual routers while
 * the others keep running (a restart of every router would be a failover), say which state each is in, and tell about
 * every state change. host-on-speakers.ts implements it over one Speaker per interface; tests pass a fake.
 */
import type { DesiredRouter, RouterKey, RouterStep } from './cluster/desired-routers.ts';
import type { StateName } from './runtime/effects.ts';

/** TransitionListener hears one router change state, with the router as it was given (services, VIPs, interface). */
export type TransitionListener = (router: DesiredRouter, to: StateName, reason: string) => void;

/** RouterHost: see the file comment. */
export interface RouterHost {
  /** apply carries out one step; a failure is returned as text (the step is retried by the next reconcile). */
  apply(step: RouterStep): string | undefined;
  /** state is the engine state of a running router, undefined when it is not running. */
  state(key: RouterKey): StateName | undefined;
  onTransition(listener: TransitionListener): void;
  /** stop resigns every router (priority 0 from masters) and closes the sockets. */
  stop(): Promise<void>;
}
