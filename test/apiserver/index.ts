// index.ts — the stand-in's public surface for tests and the lab.

export { ApiError, type Status, type StatusReason, statusOfClientError } from './errors.ts';
export type { FailOptions, RequestMatch, RequestRecord, Verb } from './faults.ts';
export { type KubeconfigOptions, kubeConfigFor, kubeconfigYaml, writeKubeconfigFile } from './kubeconfig.ts';
export type { KubeObject, ObjectMeta } from './object.ts';
export type { PatchType } from './patch.ts';
export { RESOURCES, Registry, type ResourceDef } from './resources.ts';
export { type ApiServer, type ApiServerOptions, startApiServer } from './server.ts';
export { DEFAULT_NAMESPACES, isApiError, Store, type StoreOptions, type WatchEvent } from './store.ts';
