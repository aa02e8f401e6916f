import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VRRP_MULTICAST, VRRP_PROTOCOL, VRRP_TTL } from '../../vrrp/advert.ts';

test('VRRP constants match RFC 5798 §5.1', () => {
  assert.equal(VRRP_PROTOCOL, 112);
  assert.equal(VRRP_TTL, 255);
  assert.deepEqual(VRRP_MULTICAST, { ipv4: '224.0.0.18', ipv6: 'ff02::12' });
});
