// kinds.ts — what the real API server does per kind beyond storage: defaulting (Service clusterIP, nodePorts,
// ipFamilies; Namespace phase and name label) and the validation rules this project's code could trip over
// (names, labels, Service ports and load-balancer status, Event fields and MicroTime format, EndpointSlice
// addressType). Failures come back as causes; the store turns them into one 422 Invalid.

import { isIP } from 'node:net';
import type { StatusCause } from './errors.ts';
import { asRecord, type JsonRecord, type KubeObject } from './object.ts';
import type { NameFormat, ResourceDef } from './resources.ts';
import { isLabelKey, isLabelValue } from './selectors.ts';

/** ServiceAllocator hands out cluster IPs and node ports; one per store, so nothing is shared between servers. */
export class ServiceAllocator {
  #nextV4 = 10; // 10.96.0.10 onwards; .1 is the kubernetes Service on a real cluster
  #nextV6 = 10;
  #nextPort = 30000;

  clusterIP(family: 'IPv4' | 'IPv6'): string {
    if (family === 'IPv6') return `fd00:10:96::${(this.#nextV6++).toString(16)}`;
    const n = this.#nextV4++;
    return `10.96.${Math.floor(n / 256) % 256}.${n % 256}`;
  }

  nodePort(): number {
    const p = this.#nextPort++;
    if (this.#nextPort > 32767) this.#nextPort = 30000;
    return p;
  }
}

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
// metav1.MicroTime is parsed with the layout 2006-01-02T15:04:05.000000Z07:00: exactly six fractional digits.
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

function nameError(format: NameFormat, name: string): string | undefined {
  switch (format) {
    case 'subdomain':
      return name.length <= 253 && SUBDOMAIN.test(name)
        ? undefined
        : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    case 'label':
      return name.length <= 63 && LABEL.test(name)
        ? undefined
        : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
    case 'label1035':
      return name.length <= 63 && LABEL_1035.test(name)
        ? undefined
        : "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
  }
}

/** validateMeta checks name, labels and annotation keys, which every kind validates. */
export function validateMeta(def: ResourceDef, obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const name = obj.metadata.name ?? '';
  if (name === '') {
    out.push({
      field: 'metadata.name',
      reason: 'FieldValueRequired',
      message: 'Required value: name or generateName is required',
    });
  } else {
    const err = nameError(def.nameFormat, name);
    if (err)
      out.push({ field: 'metadata.name', reason: 'FieldValueInvalid', message: `Invalid value: "${name}": ${err}` });
  }
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (!isLabelKey(k)) out.push({ field: 'metadata.labels', message: `Invalid value: "${k}": invalid label key` });
    if (typeof v !== 'string' || !isLabelValue(v)) {
      out.push({
        field: 'metadata.labels',
        message: `Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      });
    }
  }
  for (const k of Object.keys(obj.metadata.annotations ?? {})) {
    if (!isLabelKey(k))
      out.push({ field: 'metadata.annotations', message: `Invalid value: "${k}": invalid annotation key` });
  }
  return out;
}

/** KindHooks are a kind's defaulting and validation; absent hooks do nothing. */
export interface KindHooks {
  /** applyDefaults fills what the server fills; prev is the stored object on update. */
  applyDefaults?(obj: KubeObject, prev: KubeObject | undefined, alloc: ServiceAllocator): void;
  validate?(obj: KubeObject, prev: KubeObject | undefined): StatusCause[];
}

function spec(obj: KubeObject): JsonRecord {
  const s = asRecord(obj['spec']) ?? {};
  obj['spec'] = s;
  return s;
}

function familyOf(ip: string): 'IPv4' | 'IPv6' {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

function defaultService(obj: KubeObject, prev: KubeObject | undefined, alloc: ServiceAllocator): void {
  const s = spec(obj);
  const prevSpec = asRecord(prev?.['spec']) ?? {};
  s['type'] ??= 'ClusterIP';
  s['sessionAffinity'] ??= 'None';
  const type = s['type'];
  if (type !== 'ExternalName') {
    // clusterIP is immutable: a PUT or patch that drops it keeps the allocated one, as the real registry does.
    if (!s['clusterIP'] && prevSpec['clusterIP']) {
      s['clusterIP'] = prevSpec['clusterIP'];
      s['clusterIPs'] ??= prevSpec['clusterIPs'];
      s['ipFamilies'] ??= prevSpec['ipFamilies'];
      s['ipFamilyPolicy'] ??= prevSpec['ipFamilyPolicy'];
    }
    const policy = (s['ipFamilyPolicy'] as string | undefined) ?? 'SingleStack';
    const requested = Array.isArray(s['ipFamilies']) ? (s['ipFamilies'] as ('IPv4' | 'IPv6')[]) : undefined;
    if (s['clusterIP'] === 'None') {
      s['clusterIPs'] ??= ['None'];
      s['ipFamilies'] ??= requested ?? ['IPv4'];
    } else {
      if (!s['clusterIP']) {
        const families = requested ?? (policy === 'SingleStack' ? ['IPv4'] : ['IPv4', 'IPv6']);
        const ips = families.map((f) => alloc.clusterIP(f));
        s['clusterIP'] = ips[0];
        s['clusterIPs'] = ips;
      }
      s['clusterIPs'] ??= [s['clusterIP']];
      s['ipFamilies'] ??= (s['clusterIPs'] as string[]).map(familyOf);
    }
    s['ipFamilyPolicy'] = policy;
    s['internalTrafficPolicy'] ??= 'Cluster';
  }
  const needsNodePorts =
    type === 'NodePort' || (type === 'LoadBalancer' && s['allocateLoadBalancerNodePorts'] !== false);
  if (type === 'NodePort' || type === 'LoadBalancer') s['externalTrafficPolicy'] ??= 'Cluster';
  if (type === 'LoadBalancer') s['allocateLoadBalancerNodePorts'] ??= true;
  const prevPorts = Array.isArray(prevSpec['ports']) ? prevSpec['ports'].map(asRecord) : [];
  if (Array.isArray(s['ports'])) {
    for (const raw of s['ports']) {
      const p = asRecord(raw);
      if (!p) continue;
      p['protocol'] ??= 'TCP';
      p['targetPort'] ??= p['port'];
      if (needsNodePorts && p['nodePort'] === undefined) {
        const old = prevPorts.find((o) => o?.['port'] === p['port'] && o?.['protocol'] === p['protocol']);
        p['nodePort'] = old?.['nodePort'] ?? alloc.nodePort();
      }
    }
  }
  if (type === 'LoadBalancer' && s['externalTrafficPolicy'] === 'Local') {
    s['healthCheckNodePort'] ??= prevSpec['healthCheckNodePort'] ?? alloc.nodePort();
  }
  const status = asRecord(obj['status']) ?? {};
  status['loadBalancer'] ??= {};
  obj['status'] = status;
}

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];

function validateService(obj: KubeObject, prev: KubeObject | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  const s = asRecord(obj['spec']) ?? {};
  const type = String(s['type']);
  if (!SERVICE_TYPES.includes(type)) {
    out.push({
      field: 'spec.type',
      message: `Unsupported value: "${type}": supported values: "${SERVICE_TYPES.join('", "')}"`,
    });
  }
  const ports = Array.isArray(s['ports']) ? s['ports'] : [];
  if (ports.length === 0 && type !== 'ExternalName' && s['clusterIP'] !== 'None') {
    out.push({ field: 'spec.ports', message: 'Required value' });
  }
  const names = new Set<string>();
  ports.forEach((raw, i) => {
    const p = asRecord(raw) ?? {};
    const port = p['port'];
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      out.push({
        field: `spec.ports[${i}].port`,
        message: `Invalid value: ${String(port)}: must be between 1 and 65535, inclusive`,
      });
    }
    if (!['TCP', 'UDP', 'SCTP'].includes(String(p['protocol']))) {
      out.push({ field: `spec.ports[${i}].protocol`, message: `Unsupported value: "${String(p['protocol'])}"` });
    }
    const name = typeof p['name'] === 'string' ? p['name'] : '';
    if (ports.length > 1 && name === '') out.push({ field: `spec.ports[${i}].name`, message: 'Required value' });
    if (name !== '' && names.has(name))
      out.push({ field: `spec.ports[${i}].name`, message: `Duplicate value: "${name}"` });
    names.add(name);
  });
  const prevIP = asRecord(prev?.['spec'])?.['clusterIP'];
  if (prevIP && s['clusterIP'] !== prevIP && type !== 'ExternalName') {
    out.push({
      field: 'spec.clusterIPs[0]',
      message: `Invalid value: "${String(s['clusterIP'])}": may not change once set`,
    });
  }
  const ingress = asRecord(asRecord(obj['status'])?.['loadBalancer'])?.['ingress'];
  if (Array.isArray(ingress)) {
    ingress.forEach((raw, i) => {
      const ing = asRecord(raw) ?? {};
      const ip = ing['ip'];
      if (ip !== undefined && (typeof ip !== 'string' || isIP(ip) === 0)) {
        out.push({
          field: `status.loadBalancer.ingress[${i}].ip`,
          message: `Invalid value: "${String(ip)}": must be a valid IP address`,
        });
      }
      if (ing['ipMode'] !== undefined) {
        if (ip === undefined)
          out.push({
            field: `status.loadBalancer.ingress[${i}].ipMode`,
            message: 'Forbidden: may not be specified when `ip` is not',
          });
        if (!['VIP', 'Proxy'].includes(String(ing['ipMode']))) {
          out.push({
            field: `status.loadBalancer.ingress[${i}].ipMode`,
            message: `Unsupported value: "${String(ing['ipMode'])}": supported values: "Proxy", "VIP"`,
          });
        }
      }
    });
  }
  return out;
}

function defaultNamespace(obj: KubeObject): void {
  const name = obj.metadata.name ?? '';
  obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': name };
  const s = spec(obj);
  s['finalizers'] ??= ['kubernetes'];
  const status = asRecord(obj['status']) ?? {};
  status['phase'] ??= 'Active';
  obj['status'] = status;
}

/** EventFields names the same Event fields in the two API groups. */
interface EventFields {
  readonly regarding: string;
  readonly note: string;
  readonly controller: string;
}

/** badMicroTime returns a decode failure for a MicroTime field that is set but not in RFC3339Micro form. */
function badMicroTime(field: string, value: unknown): StatusCause | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && MICRO_TIME.test(value)) return undefined;
  // A real server fails to decode such a body: 400, not 422. Signalled with reason 'BadRequest'.
  return {
    field,
    reason: 'BadRequest',
    message: `${field}: parsing time "${String(value)}" as "2006-01-02T15:04:05.000000Z07:00": need exactly six fractional digits (send a V1MicroTime, not a Date)`,
  };
}

function validateLease(obj: KubeObject): StatusCause[] {
  const s = asRecord(obj['spec']) ?? {};
  return [badMicroTime('spec.acquireTime', s['acquireTime']), badMicroTime('spec.renewTime', s['renewTime'])].filter(
    (c): c is StatusCause => c !== undefined,
  );
}

function validateEvent(f: EventFields, requireNew: boolean): (obj: KubeObject) => StatusCause[] {
  return (obj) => {
    const out: StatusCause[] = [];
    const time = obj['eventTime'];
    const decode = badMicroTime('eventTime', time);
    if (decode) return [decode];
    const isNew = requireNew || (time !== undefined && time !== null);
    if (requireNew && !time) out.push({ field: 'eventTime', message: 'Required value' });
    if (isNew) {
      for (const field of [f.controller, 'reportingInstance', 'action', 'reason']) {
        if (!obj[field]) out.push({ field, message: 'Required value' });
      }
      if (!['Normal', 'Warning'].includes(String(obj['type']))) {
        out.push({
          field: 'type',
          message: `Unsupported value: "${String(obj['type'])}": supported values: "Normal", "Warning"`,
        });
      }
      const note = obj[f.note];
      if (typeof note === 'string' && note.length > 1024)
        out.push({ field: f.note, message: 'Too long: may not be more than 1024 bytes' });
    }
    const regarding = asRecord(obj[f.regarding]);
    const ns = obj.metadata.namespace ?? '';
    const refNs = typeof regarding?.['namespace'] === 'string' ? regarding['namespace'] : '';
    // An event about a cluster-scoped object lives in "default" (or kube-system); otherwise in its object's namespace.
    const ok = refNs === '' ? ['', 'default', ...(isNew ? ['kube-system'] : [])].includes(ns) : refNs === ns;
    if (!ok)
      out.push({
        field: `${f.regarding}.namespace`,
        message: `Invalid value: "${refNs}": does not match event.namespace`,
      });
    return out;
  };
}

function validateEndpointSlice(obj: KubeObject): StatusCause[] {
  const t = obj['addressType'];
  if (t === undefined) return [{ field: 'addressType', message: 'Required value' }];
  if (!['IPv4', 'IPv6', 'FQDN'].includes(String(t))) {
    return [
      { field: 'addressType', message: `Unsupported value: "${String(t)}": supported values: "FQDN", "IPv4", "IPv6"` },
    ];
  }
  return [];
}

/** hooksFor returns the hooks for a kind (keyed by groupVersion and kind). */
export function hooksFor(def: ResourceDef): KindHooks {
  switch (`${def.groupVersion}/${def.kind}`) {
    case 'v1/Service':
      return { applyDefaults: defaultService, validate: validateService };
    case 'v1/Namespace':
      return { applyDefaults: defaultNamespace };
    case 'v1/Event':
      return {
        validate: validateEvent(
          { regarding: 'involvedObject', note: 'message', controller: 'reportingComponent' },
          false,
        ),
      };
    case 'events.k8s.io/v1/Event':
      return {
        validate: validateEvent({ regarding: 'regarding', note: 'note', controller: 'reportingController' }, true),
      };
    case 'coordination.k8s.io/v1/Lease':
      return { validate: validateLease };
    case 'discovery.k8s.io/v1/EndpointSlice':
      return { validate: validateEndpointSlice };
    default:
      return {};
  }
}
