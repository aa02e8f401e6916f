// doubleAnswers: spans of client ARP requests answered by two MACs, read from tshark rows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { doubleAnswers } from '../../lab/netlab/double-answers.ts';

const C = '10.0.0.254';
const V = '10.0.0.100';
const req = (s: number) => [String(s), '1', 'cc', C, V];
const rep = (s: number, mac: string) => [String(s), '2', mac, V, C];

test('one MAC per request: no span', () => {
  assert.deepEqual(doubleAnswers([req(1), rep(1.001, 'a'), req(1.01), rep(1.011, 'a')], C, [V]), []);
});

test('consecutive requests answered twice form one span, named; a single answer ends it', () => {
  const rows = [
    req(1),
    rep(1.001, 'a'),
    req(1.01),
    rep(1.011, 'a'),
    rep(1.012, 'b'),
    req(1.02),
    rep(1.021, 'b'),
    rep(1.025, 'a'),
    req(1.03),
    rep(1.031, 'b'),
    req(1.04),
    rep(1.041, 'a'),
    rep(1.042, 'b'),
  ];
  const spans = doubleAnswers(rows, C, [V], (m) => `n-${m}`);
  assert.equal(spans.length, 2);
  assert.deepEqual(
    spans.map((s) => [s.requests, [...s.macs].sort(), Math.round(s.ms)]),
    [
      [2, ['n-a', 'n-b'], 15],
      [1, ['n-a', 'n-b'], 2],
    ],
  );
  assert.equal(spans[0]!.at, 1010);
});

test('replies for another VIP or another client do not count', () => {
  const rows = [
    req(1),
    rep(1.001, 'a'),
    [String(1.002), '2', 'b', '10.0.0.101', C],
    [String(1.003), '2', 'b', V, '10.0.0.9'],
  ];
  assert.deepEqual(doubleAnswers(rows, C, [V]), []);
});
