import assert from 'node:assert/strict';
import { test } from 'node:test';
import { advertIntervalCs, parseDuration } from '../../src/model/duration.ts';
import { parseStandaloneConfig } from '../../src/speaker/standalone/standalone-config.ts';

const good = `
interface: eth0
advertInterval: 100ms
gratuitous: { count: 2, spacing: 50ms }
routers:
  - { vrid: 51, priority: 200, vips: [10.0.0.100, 10.0.0.101] }
  - { vrid: 51, priority: 150, vips: ["FD00::0100"], advertInterval: 20ms, preempt: false }
`;

test('a valid file gives routers with family, defaults and canonical VIPs', () => {
  const res = parseStandaloneConfig(good);
  assert.ok('config' in res, JSON.stringify(res));
  const { config } = res;
  assert.equal(config.interface, 'eth0');
  assert.deepEqual(config.gratuitous, { count: 2, spacingMs: 50, refreshMs: 60_000 });
  assert.deepEqual(config.unicastPeers, []);
  assert.deepEqual(config.routers, [
    {
      vrid: 51,
      family: 'ipv4',
      priority: 200,
      advertIntervalCs: 10,
      preempt: true,
      preemptDelayMs: 0,
      vips: ['10.0.0.100', '10.0.0.101'],
    },
    {
      vrid: 51,
      family: 'ipv6',
      priority: 150,
      advertIntervalCs: 2,
      preempt: false,
      preemptDelayMs: 0,
      vips: ['fd00::100'],
    },
  ]);
});

const bad: [string, string, RegExp][] = [
  ['not YAML', 'interface: [eth0', /not valid YAML/],
  ['not a mapping', '- a', /YAML mapping/],
  ['no interface', 'routers: [{vrid: 1, vips: [10.0.0.1]}]', /interface: required/],
  ['no routers', 'interface: eth0', /routers: required/],
  ['vrid 0', 'interface: e\nrouters: [{vrid: 0, vips: [10.0.0.1]}]', /vrid: 0 is not 1..255/],
  ['vrid 256', 'interface: e\nrouters: [{vrid: 256, vips: [10.0.0.1]}]', /vrid: 256/],
  ['priority 255 (owner)', 'interface: e\nrouters: [{vrid: 1, priority: 255, vips: [10.0.0.1]}]', /priority: 255/],
  ['priority 0', 'interface: e\nrouters: [{vrid: 1, priority: 0, vips: [10.0.0.1]}]', /priority: 0/],
  ['bad VIP', 'interface: e\nrouters: [{vrid: 1, vips: [10.0.0.300]}]', /not an IP address/],
  ['mixed families', 'interface: e\nrouters: [{vrid: 1, vips: [10.0.0.1, "fd00::1"]}]', /mixes IPv4 and IPv6/],
  ['interval too short', 'interface: e\nadvertInterval: 5ms\nrouters: [{vrid: 1, vips: [10.0.0.1]}]', /outside/],
  ['interval not cs', 'interface: e\nadvertInterval: 15ms\nrouters: [{vrid: 1, vips: [10.0.0.1]}]', /centiseconds/],
  ['interval garbage', 'interface: e\nadvertInterval: fast\nrouters: [{vrid: 1, vips: [10.0.0.1]}]', /not a duration/],
  ['preempt not bool', 'interface: e\npreempt: "yes"\nrouters: [{vrid: 1, vips: [10.0.0.1]}]', /preempt: "yes"/],
  [
    'duplicate vrid',
    'interface: e\nrouters: [{vrid: 1, vips: [10.0.0.1]}, {vrid: 1, vips: [10.0.0.2]}]',
    /VRID 1 is used twice/,
  ],
  [
    'VIP in two routers',
    'interface: e\nrouters: [{vrid: 1, vips: [10.0.0.1]}, {vrid: 2, vips: [10.0.0.1]}]',
    /in VRID 1/,
  ],
  ['bad peer', 'interface: e\nunicastPeers: [x]\nrouters: [{vrid: 1, vips: [10.0.0.1]}]', /unicastPeers/],
  ['gratuitous count', 'interface: e\ngratuitous: {count: -1}\nrouters: [{vrid: 1, vips: [10.0.0.1]}]', /count/],
  ['xdpAnswers true', 'interface: e\nxdpAnswers: true\nrouters: [{vrid: 1, vips: [10.0.0.1]}]', /xdpAnswers/],
  ['xdpAnswers driver', 'interface: e\nxdpAnswers: driver\nrouters: [{vrid: 1, vips: [10.0.0.1]}]', /xdpAnswers/],
];

test('xdpAnswers: off unless the file says auto, native or generic', () => {
  const read = (line: string) => {
    const res = parseStandaloneConfig(`interface: e\n${line}\nrouters: [{vrid: 1, vips: [10.0.0.1]}]`);
    assert.ok('config' in res, JSON.stringify(res));
    return res.config.xdpAnswers;
  };
  assert.equal(read(''), 'off');
  for (const v of ['off', 'auto', 'native', 'generic']) assert.equal(read(`xdpAnswers: ${v}`), v);
});

for (const [name, text, want] of bad) {
  test(`invalid config is reported, not defaulted: ${name}`, () => {
    const res = parseStandaloneConfig(text);
    assert.ok('errors' in res, `expected errors, got ${JSON.stringify(res)}`);
    assert.ok(
      res.errors.some((e) => want.test(e)),
      res.errors.join('; '),
    );
  });
}

test('durations and centiseconds', () => {
  assert.equal(parseDuration('100ms'), 100);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('2m'), 120000);
  assert.equal(parseDuration(20), 20);
  assert.equal(parseDuration('-1'), undefined);
  assert.equal(parseDuration('soon'), undefined);
  assert.deepEqual(advertIntervalCs(40950), { cs: 4095 });
  assert.ok('error' in advertIntervalCs(40960));
  assert.deepEqual(advertIntervalCs(10), { cs: 1 });
});
