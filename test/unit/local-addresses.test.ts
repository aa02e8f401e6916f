import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultRouteInterfaces } from '../../src/net/local-addresses.ts';

const ROUTE4 = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0
`;
const ROUTE6 = `fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     bond0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;

test('the default route interface comes from the all-zero destination and mask, per family', () => {
  assert.deepEqual(defaultRouteInterfaces(ROUTE4, ROUTE6), { ipv4: 'eth0', ipv6: 'bond0' });
});

test('no default route, or unreadable tables: no interface', () => {
  assert.deepEqual(defaultRouteInterfaces(ROUTE4.split('\n').slice(0, 2).join('\n'), undefined), {});
  assert.deepEqual(defaultRouteInterfaces(undefined, ROUTE6.split('\n').slice(2).join('\n')), {});
});
