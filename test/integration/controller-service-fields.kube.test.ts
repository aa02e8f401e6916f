// Every Service field and annotation the controller reads, each with its error path, on the real kube-apiserver + etcd
// (dual-stack Service ranges, the controller as its ServiceAccount, Services applied with kubectl): spec.loadBalancerIP,
// loadBalancerIPs, address-pool, allow-shared-ip (MetalLB's sharing rules), both annotation prefixes,
// spec.loadBalancerClass, and dual-stack (ipFamilies, ipFamilyPolicy).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lbService, pool, waitForAsync } from './harness.ts';
import { KubeLab } from './kube-lab.ts';

let lab: KubeLab;
const NS = 'fields';
const WAIT = 30_000;

function ingress(name: string): Promise<string[]> {
  return lab.ingress(NS, name);
}

async function allocated(name: string, count = 1): Promise<string[]> {
  return waitForAsync(
    `${name} ingress`,
    async () => {
      const ips = await ingress(name);
      return ips.length === count && ips;
    },
    WAIT,
  );
}

async function failure(name: string, pattern: RegExp): Promise<string> {
  const msg = await waitForAsync(
    `AllocationFailed on ${name}`,
    async () => (await lab.events(NS, name, 'AllocationFailed')).find((e) => pattern.test(e.message)),
    WAIT,
  );
  assert.equal(msg.type, 'Warning');
  return msg.message;
}

function svc(name: string, opts: Parameters<typeof lbService>[1] = {}) {
  return lbService(name, { namespace: NS, ...opts });
}

before(async () => {
  lab = await KubeLab.start('ctl-fields-kube', { dualStack: true });
  await lab.kubectl(['create', 'namespace', NS]);
  await lab.apply(
    pool('main', ['10.10.0.0/24']),
    pool('extra', ['10.30.0.0/30'], { autoAssign: false }),
    pool('dual', ['10.20.0.0/29', 'fd00:20::/125'], { autoAssign: false }),
    pool('v4only', ['10.40.0.0/30'], { autoAssign: false }),
  );
  await lab.startController().controller.whenReady();
});
after(() => lab?.close());

describe('spec.loadBalancerIP and loadBalancerIPs', () => {
  test('a requested address in a pool is honoured', async () => {
    await lab.apply(svc('req-ok', { spec: { loadBalancerIP: '10.10.0.77' } }));
    assert.deepEqual(await allocated('req-ok'), ['10.10.0.77']);
    assert.equal((await lab.annotations(NS, 'req-ok'))['metallb.io/ip-allocated-from-pool'], 'main');
  });

  test('a requested address outside every pool is refused, naming the cause', async () => {
    await lab.apply(svc('req-out', { spec: { loadBalancerIP: '10.99.0.1' } }));
    const m = await failure('req-out', /not in any usable address pool/);
    assert.match(m, /10\.99\.0\.1/);
    assert.deepEqual(await ingress('req-out'), []);
  });

  test('a requested address held by a Service that does not share is refused', async () => {
    await lab.apply(svc('req-taken', { spec: { loadBalancerIP: '10.10.0.77' } }));
    const m = await failure('req-taken', /in use by a service that does not share it/);
    assert.match(m, /10\.10\.0\.77 \(used by fields\/req-ok\)/);
  });

  for (const prefix of ['metallb.io', 'metallb.universe.tf']) {
    test(`${prefix}/loadBalancerIPs is honoured`, async () => {
      const name = `ips-${prefix.split('.')[1]}`;
      const ip = prefix === 'metallb.io' ? '10.10.0.81' : '10.10.0.82';
      await lab.apply(svc(name, { annotations: { [`${prefix}/loadBalancerIPs`]: ip } }));
      assert.deepEqual(await allocated(name), [ip]);
    });
  }

  test('an invalid loadBalancerIPs value is reported, nothing allocated', async () => {
    await lab.apply(svc('ips-bad', { annotations: { 'metallb.io/loadBalancerIPs': '10.10.0.300' } }));
    await failure('ips-bad', /invalid service annotation: metallb\.io\/loadBalancerIPs: "10\.10\.0\.300" is not an IP/);
    assert.deepEqual(await ingress('ips-bad'), []);
  });

  test('loadBalancerIPs and spec.loadBalancerIP together are refused', async () => {
    await lab.apply(
      svc('ips-both', {
        annotations: { 'metallb.io/loadBalancerIPs': '10.10.0.90' },
        spec: { loadBalancerIP: '10.10.0.91' },
      }),
    );
    await failure('ips-both', /are both set/);
  });

  test('when the prefixes disagree the current one wins and a Warning says so', async () => {
    await lab.apply(
      svc('ips-conflict', {
        annotations: {
          'metallb.io/loadBalancerIPs': '10.10.0.95',
          'metallb.universe.tf/loadBalancerIPs': '10.10.0.96',
        },
      }),
    );
    assert.deepEqual(await allocated('ips-conflict'), ['10.10.0.95']);
    const w = await waitForAsync(
      'AnnotationConflict',
      async () => (await lab.events(NS, 'ips-conflict', 'AnnotationConflict'))[0],
      WAIT,
    );
    assert.equal(w.type, 'Warning');
    assert.match(w.message, /metallb\.universe\.tf\/loadBalancerIPs="10\.10\.0\.96" is ignored/);
  });

  test('changing the requested address moves the Service to it', async () => {
    await lab.kubectl([
      'patch',
      'service',
      'req-ok',
      '-n',
      NS,
      '--type=merge',
      '-p',
      '{"spec":{"loadBalancerIP":"10.10.0.78"}}',
    ]);
    await waitForAsync('moved', async () => (await ingress('req-ok'))[0] === '10.10.0.78', WAIT);
    // 10.10.0.77 is free again: the Service that wanted it gets it (it was waiting on a transient failure).
    assert.deepEqual(await allocated('req-taken'), ['10.10.0.77']);
  });
});

describe('address-pool', () => {
  for (const prefix of ['metallb.io', 'metallb.universe.tf']) {
    test(`${prefix}/address-pool picks a pool that is not auto-assigned`, async () => {
      const name = `pool-${prefix.split('.')[1]}`;
      await lab.apply(svc(name, { annotations: { [`${prefix}/address-pool`]: 'extra' } }));
      const [ip] = await allocated(name);
      assert.match(ip ?? '', /^10\.30\.0\.[0-3]$/);
      assert.equal((await lab.annotations(NS, name))['metallb.io/ip-allocated-from-pool'], 'extra');
    });
  }

  test('an unknown pool is refused, naming it', async () => {
    await lab.apply(svc('pool-unknown', { annotations: { 'metallb.io/address-pool': 'nope' } }));
    await failure('pool-unknown', /no valid address pool has that name: nope/);
  });

  test('a requested address outside the named pool is refused', async () => {
    await lab.apply(
      svc('pool-mismatch', {
        annotations: { 'metallb.io/address-pool': 'extra' },
        spec: { loadBalancerIP: '10.10.0.5' },
      }),
    );
    await failure('pool-mismatch', /not in pool extra/);
  });
});

describe('allow-shared-ip', () => {
  const shared = (
    name: string,
    key: string,
    port: number,
    extra: Record<string, unknown> = {},
    prefix = 'metallb.io',
  ) =>
    svc(name, {
      port,
      annotations: { [`${prefix}/allow-shared-ip`]: key, 'metallb.io/loadBalancerIPs': '10.10.0.200' },
      spec: extra,
    });

  test('Services with the same key and distinct ports share one address (both prefixes)', async () => {
    await lab.apply(shared('share-a', 'k1', 80));
    await lab.apply(shared('share-b', 'k1', 443, {}, 'metallb.universe.tf'));
    assert.deepEqual(await allocated('share-a'), ['10.10.0.200']);
    assert.deepEqual(await allocated('share-b'), ['10.10.0.200']);
    const vr = async (n: string) => (await lab.annotations(NS, n))['metal-vrrp.io/vrids'];
    assert.equal(await vr('share-a'), await vr('share-b'), 'one address, one virtual router');
  });

  test('the same port on the shared address is refused', async () => {
    await lab.apply(shared('share-port', 'k1', 80));
    await failure(
      'share-port',
      /a port\/protocol is already served on the shared address: TCP\/80 on 10\.10\.0\.200 by fields\/share-a/,
    );
  });

  test('a different key is refused', async () => {
    await lab.apply(shared('share-key', 'k2', 8080));
    await failure('share-key', /shared under a different allow-shared-ip key/);
  });

  test('a different externalTrafficPolicy is refused', async () => {
    await lab.apply(shared('share-etp', 'k1', 9090, { externalTrafficPolicy: 'Local' }));
    await failure('share-etp', /must have the same externalTrafficPolicy/);
  });

  test('without a requested address, a Service with the same key joins the shared address', async () => {
    await lab.apply(svc('auto-a', { port: 53, protocol: 'UDP', annotations: { 'metallb.io/allow-shared-ip': 'dns' } }));
    const [ip] = await allocated('auto-a');
    await lab.apply(svc('auto-b', { port: 53, protocol: 'TCP', annotations: { 'metallb.io/allow-shared-ip': 'dns' } }));
    assert.deepEqual(await allocated('auto-b'), [ip as string]);
  });

  test('deleting one sharer keeps the address for the other', async () => {
    await lab.controllers[0]?.controller.idle();
    const before_ = await waitForAsync('pool status', () => lab.poolStatus('main'), WAIT);
    await lab.kubectl(['delete', 'service', 'share-b', '-n', NS]);
    await new Promise((r) => setTimeout(r, 1_000));
    await lab.controllers[0]?.controller.idle();
    assert.deepEqual(await ingress('share-a'), ['10.10.0.200']);
    const now = await waitForAsync('pool status', () => lab.poolStatus('main'), WAIT);
    assert.equal(now['assignedIPv4'], before_['assignedIPv4']);
  });
});

describe('spec.loadBalancerClass', () => {
  test('a Service of another class is left alone: no address, no Event', async () => {
    await lab.apply(svc('class-other', { spec: { loadBalancerClass: 'example.com/other' } }));
    await lab.apply(svc('class-marker'));
    await allocated('class-marker');
    await lab.controllers[0]?.controller.idle();
    assert.deepEqual(await ingress('class-other'), []);
    assert.deepEqual(await lab.events(NS, 'class-other'), []);
    assert.equal((await lab.annotations(NS, 'class-other'))['metallb.io/ip-allocated-from-pool'], undefined);
  });

  test("without --lb-class, as MetalLB, even this project's class name is another load balancer's", async () => {
    await lab.apply(svc('class-ours', { spec: { loadBalancerClass: 'metal-vrrp.io/vrrp' } }));
    await lab.apply(svc('class-marker-2'));
    await allocated('class-marker-2');
    await lab.controllers[0]?.controller.idle();
    assert.deepEqual(await ingress('class-ours'), []);
    assert.deepEqual(await lab.events(NS, 'class-ours'), []);
  });
});

describe('dual-stack', () => {
  const pinned = (name: string, spec: Record<string, unknown>, poolName = 'dual') =>
    svc(name, { annotations: { 'metallb.io/address-pool': poolName }, spec });

  test('RequireDualStack gets one address per family, primary first, each with a VRID', async () => {
    await lab.apply(pinned('ds-require', { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv4'] }));
    const [v6, v4] = await allocated('ds-require', 2);
    assert.match(v6 ?? '', /^fd00:20::[0-7]?$/);
    assert.match(v4 ?? '', /^10\.20\.0\.[0-7]$/);
    const vrids = (await lab.annotations(NS, 'ds-require'))['metal-vrrp.io/vrids'] ?? '';
    assert.match(vrids, new RegExp(`^${v6}=\\d+,${v4?.replaceAll('.', '\\.')}=\\d+$`));
    await waitForAsync(
      'dual pool status',
      async () => {
        const st = await lab.poolStatus('dual');
        return st?.['assignedIPv4'] === 1 && st['assignedIPv6'] === 1 && st['availableIPv6'] === 7;
      },
      WAIT,
    );
  });

  test('IPv6 SingleStack gets an IPv6 address', async () => {
    await lab.apply(pinned('ds-v6', { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv6'] }));
    const [ip] = await allocated('ds-v6');
    assert.match(ip ?? '', /^fd00:20::/);
  });

  test('PreferDualStack settles for the family the pool has', async () => {
    await lab.apply(pinned('ds-prefer', { ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'] }, 'v4only'));
    const [ip] = await allocated('ds-prefer');
    assert.match(ip ?? '', /^10\.40\.0\./);
  });

  test('RequireDualStack from an IPv4-only pool is refused', async () => {
    await lab.apply(pinned('ds-fail', { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] }, 'v4only'));
    await failure('ds-fail', /no address pool may serve this service: none of v4only has ipv4\+ipv6/);
    assert.deepEqual(await ingress('ds-fail'), []);
  });

  test('a requested address of the wrong family is refused', async () => {
    await lab.apply(svc('ds-wrong', { annotations: { 'metallb.io/loadBalancerIPs': 'fd00:20::3' } }));
    await failure('ds-wrong', /do not fit the service's IP families/);
  });
});
