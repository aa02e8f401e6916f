// resources.ts — the table of kinds the stand-in serves and the discovery documents built from it.
// Adding a kind is one line in RESOURCES; everything else (routing, storage, discovery, selectors) reads the table.

/** NameFormat is the validation a kind applies to `metadata.name` (apimachinery's name validators). */
export type NameFormat = 'subdomain' | 'label' | 'label1035';

/** ResourceDef describes one resource: where it lives, and which API-server behaviours apply to it. */
export interface ResourceDef {
  /** group is '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** groupVersion is `v1` for core, `group/version` otherwise (the objects' `apiVersion`). */
  readonly groupVersion: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** hasStatus: a `/status` subresource exists, so the main endpoint ignores status and `/status` changes only it. */
  readonly hasStatus: boolean;
  /**
   * custom: served like a CustomResourceDefinition: `metadata.generation` tracks spec changes, PUT needs a
   * resourceVersion, strategic-merge patches are refused (415), list items carry kind/apiVersion and DELETE
   * returns the object.
   */
  readonly custom: boolean;
  readonly shortNames: readonly string[];
  /** fieldSelectors the kind supports besides `metadata.name` and `metadata.namespace`. */
  readonly fieldSelectors: readonly string[];
  readonly nameFormat: NameFormat;
  /** deleteReturnsObject: DELETE answers with the object instead of a Success Status (pods, custom resources). */
  readonly deleteReturnsObject: boolean;
}

interface DefOptions {
  readonly namespaced?: boolean;
  readonly status?: boolean;
  readonly custom?: boolean;
  readonly short?: readonly string[];
  readonly fields?: readonly string[];
  readonly name?: NameFormat;
  readonly returnsObject?: boolean;
}

function def(groupVersion: string, kind: string, plural: string, o: DefOptions = {}): ResourceDef {
  const slash = groupVersion.indexOf('/');
  const group = slash < 0 ? '' : groupVersion.slice(0, slash);
  const version = slash < 0 ? groupVersion : groupVersion.slice(slash + 1);
  const custom = o.custom ?? false;
  return Object.freeze({
    group,
    version,
    groupVersion,
    plural,
    singular: kind.toLowerCase(),
    kind,
    namespaced: o.namespaced ?? true,
    hasStatus: o.status ?? false,
    custom,
    shortNames: o.short ?? [],
    fieldSelectors: o.fields ?? [],
    nameFormat: o.name ?? 'subdomain',
    deleteReturnsObject: o.returnsObject ?? custom,
  });
}

const CORE_EVENT_FIELDS = [
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.name',
  'involvedObject.uid',
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
  'involvedObject.fieldPath',
  'reason',
  'reportingComponent',
  'source',
  'type',
];

/** RESOURCES is every kind the stand-in serves. */
export const RESOURCES: readonly ResourceDef[] = [
  def('v1', 'Namespace', 'namespaces', { namespaced: false, status: true, short: ['ns'], name: 'label' }),
  def('v1', 'Node', 'nodes', { namespaced: false, status: true, short: ['no'], fields: ['spec.unschedulable'] }),
  def('v1', 'Service', 'services', {
    status: true,
    short: ['svc'],
    fields: ['spec.clusterIP', 'spec.type'],
    name: 'label1035',
  }),
  def('v1', 'Endpoints', 'endpoints', { short: ['ep'] }),
  def('v1', 'Pod', 'pods', {
    status: true,
    short: ['po'],
    fields: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'status.phase', 'status.podIP'],
    returnsObject: true,
  }),
  def('v1', 'ConfigMap', 'configmaps', { short: ['cm'] }),
  def('v1', 'Secret', 'secrets', { fields: ['type'] }),
  def('v1', 'Event', 'events', { short: ['ev'], fields: CORE_EVENT_FIELDS }),
  def('events.k8s.io/v1', 'Event', 'events', {
    short: ['ev'],
    fields: ['regarding.kind', 'regarding.namespace', 'regarding.name', 'regarding.uid', 'reason', 'type'],
  }),
  def('discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices', { fields: ['addressType'] }),
  def('coordination.k8s.io/v1', 'Lease', 'leases'),
  def('metallb.io/v1beta1', 'IPAddressPool', 'ipaddresspools', { custom: true, status: true }),
  def('metallb.io/v1beta1', 'L2Advertisement', 'l2advertisements', { custom: true }),
  def('metallb.io/v1beta1', 'ServiceL2Status', 'servicel2statuses', { custom: true, status: true }),
];

/** qualifiedName is how a resource is named in messages and the request log: `services`, `leases.coordination.k8s.io`. */
export function qualifiedName(d: ResourceDef): string {
  return d.group ? `${d.plural}.${d.group}` : d.plural;
}

/** Registry looks resources up by URL coordinates or by a test-friendly name. */
export class Registry {
  readonly all: readonly ResourceDef[];
  // "group/version/plural" -> def
  readonly #byPath = new Map<string, ResourceDef>();

  constructor(defs: readonly ResourceDef[] = RESOURCES) {
    this.all = defs;
    for (const d of defs) this.#byPath.set(`${d.group}/${d.version}/${d.plural}`, d);
  }

  /** byPath finds the resource a URL names. */
  byPath(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.#byPath.get(`${group}/${version}/${plural}`);
  }

  /**
   * resolve accepts `services`, `svc`, `Service`, `ipaddresspools.metallb.io` or `events.events.k8s.io`; a bare
   * name prefers the core group. Throws on an unknown name: a typo in a test should fail loudly.
   */
  resolve(name: string | ResourceDef): ResourceDef {
    if (typeof name !== 'string') return name;
    const lower = name.toLowerCase();
    const exact = this.all.find((d) => qualifiedName(d) === lower);
    if (exact) return exact;
    const loose = this.all.filter(
      (d) =>
        d.plural === lower || d.singular === lower || d.shortNames.includes(lower) || d.kind.toLowerCase() === lower,
    );
    const best = loose.find((d) => d.group === '') ?? loose[0];
    if (!best) throw new Error(`apiserver stand-in: unknown resource "${name}"`);
    return best;
  }

  /** groups lists the non-core API groups, each with its versions, in table order. */
  groups(): Map<string, string[]> {
    // group -> versions
    const out = new Map<string, string[]>();
    for (const d of this.all) {
      if (!d.group) continue;
      const versions = out.get(d.group) ?? [];
      if (!versions.includes(d.version)) versions.push(d.version);
      out.set(d.group, versions);
    }
    return out;
  }
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS_VERBS = ['get', 'patch', 'update'];

/** apiVersionsDoc answers `GET /api`. */
export function apiVersionsDoc(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDoc(group: string, versions: readonly string[]): Record<string, unknown> {
  const list = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

/** apiGroupListDoc answers `GET /apis`. */
export function apiGroupListDoc(registry: Registry): Record<string, unknown> {
  const groups = [...registry.groups()].map(([g, v]) => groupDoc(g, v));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

/** apiGroupDoc answers `GET /apis/<group>`; undefined when the group is not served. */
export function apiGroupDoc(registry: Registry, group: string): Record<string, unknown> | undefined {
  const versions = registry.groups().get(group);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group, versions) } : undefined;
}

/** apiResourceListDoc answers `GET /api/v1` and `GET /apis/<group>/<version>`. */
export function apiResourceListDoc(
  registry: Registry,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const defs = registry.all.filter((d) => d.group === group && d.version === version);
  if (defs.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const d of defs) {
    const base = { name: d.plural, singularName: d.singular, namespaced: d.namespaced, kind: d.kind };
    resources.push(
      d.shortNames.length ? { ...base, verbs: VERBS, shortNames: d.shortNames } : { ...base, verbs: VERBS },
    );
    if (d.hasStatus) {
      resources.push({
        name: `${d.plural}/status`,
        singularName: '',
        namespaced: d.namespaced,
        kind: d.kind,
        verbs: STATUS_VERBS,
      });
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

/** versionDoc answers `GET /version`. */
export function versionDoc(): Record<string, unknown> {
  return {
    major: '1',
    minor: '31',
    gitVersion: 'v1.31.0-metal-vrrp-standin',
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2024-08-13T00:00:00Z',
    goVersion: 'go1.22.5',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}
