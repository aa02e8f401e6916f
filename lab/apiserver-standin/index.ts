// index.ts — the stand-in's public surface for tests and the lab.
// The Kubernetes API stand-in lives under lab/ (not test/) because `npm run lab`, bench/controller.ts and the
// integration and network tests all use it. It is temporary: the real kube-apiserver the lab builds in lab/kube/
// (issue 12) replaces it for the lab and the benches; then it moves back under test/ or goes.

export { ApiError, type Status, type StatusReason, statusOfClientError } from './errors.ts';
export type { FailOptions, RequestMatch, RequestRecord, Verb } from './faults.ts';
export { type KubeconfigOptions, kubeConfigFor, kubeconfigYaml, writeKubeconfigFile } from './kubeconfig.ts';
export type { KubeObject, ObjectMeta } from './object.ts';
export type { PatchType } from './patch.ts';
export { RESOURCES, Registry, type ResourceDef } from './resources.ts';
export { type ApiServer, type ApiServerOptions, startApiServer } from './server.ts';
export { DEFAULT_NAMESPACES, isApiError, Store, type StoreOptions, type WatchEvent } from './store.ts';
