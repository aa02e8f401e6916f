// timeline-svg: the failover picture's pure parts (runs, takeovers, the gap) and the SVG they become.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { longestGap, renderTimelineSvg, segments, takeovers } from '../../lab/timeline-svg.ts';

/** answers every `every` ms from `who` over [from, to]. */
const run = (who: string, from: number, to: number, every = 10) =>
  Array.from({ length: Math.floor((to - from) / every) + 1 }, (_, i) => ({ t: from + i * every, who }));

describe('timeline pieces', () => {
  const lane = [...run('n1', 0, 200), ...run('n2', 510, 800)];

  test('segments: one run per node, split by a silence longer than 2.5 probe intervals', () => {
    assert.deepEqual(segments(lane, 10), [
      { who: 'n1', from: 0, to: 200 },
      { who: 'n2', from: 510, to: 800 },
    ]);
    // A 40 ms hole inside n1's answers splits its run; a 20 ms one does not.
    const holes = [...run('n1', 0, 100), ...run('n1', 140, 200), ...run('n1', 220, 260)];
    assert.deepEqual(
      segments(holes, 10).map((s) => [s.from, s.to]),
      [
        [0, 100],
        [140, 260],
      ],
    );
  });

  test('takeovers: the first answer from another node', () => {
    assert.deepEqual(takeovers(lane), [{ t: 510, who: 'n2' }]);
    assert.deepEqual(takeovers(run('n1', 0, 50)), []);
  });

  test('longestGap: the longest silence ending after the event, with who answered around it', () => {
    assert.deepEqual(longestGap(lane, 250), { from: 200, to: 510, before: 'n1', after: 'n2' });
    // A longer silence that ended before the event is not the event's gap.
    const early = [...run('n1', 0, 10), ...run('n1', 900, 1000), ...run('n2', 1100, 1150)];
    assert.deepEqual(longestGap(early, 950), { from: 1000, to: 1100, before: 'n1', after: 'n2' });
    assert.equal(longestGap([], 0), undefined);
  });
});

describe('renderTimelineSvg', () => {
  const svg = renderTimelineSvg({
    title: 'node loss <n1> & friends',
    subtitle: 'liveness on',
    fromMs: -300,
    toMs: 700,
    probeIntervalMs: 10,
    lanes: [
      { label: '10.0.0.16', answers: [...run('n1', -300, -90), ...run('n2', 62, 700)] },
      { label: '10.0.0.17', answers: [...run('n3', -300, 700)] },
      { label: '10.0.0.18', answers: [...run('n1', -300, -100), ...run('n3', 71, 700)] },
    ],
    marks: [{ t: 0, label: 'kill n1' }],
  });
  const count = (re: RegExp) => (svg.match(re) ?? []).length;

  test('is one SVG document with every tag closed and the text escaped', () => {
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.ok(svg.includes('node loss &lt;n1&gt; &amp; friends'));
    assert.ok(!svg.includes('<n1>'));
    const open = count(/<(rect|text|title|path|line)\b/g);
    const selfClosed = count(/<(rect|text|title|path|line)\b[^>]*\/>/g);
    const close = count(/<\/(rect|text|title|path|line)>/g);
    assert.equal(open - selfClosed, close);
  });

  test('draws one bar per run, a diamond per takeover, the kill, and labels each lane gap', () => {
    assert.equal(count(/class="seg"/g), 5);
    assert.equal(count(/class="takeover"/g), 2);
    assert.equal(count(/class="mark"/g), 1);
    assert.ok(svg.includes('>kill n1</text>'));
    // The first lane: last n1 answer at −90, first n2 answer at 62: 152 ms.
    assert.ok(svg.includes('>gap 152 ms</text>'));
    assert.ok(svg.includes('>gap 171 ms</text>'));
    assert.equal(count(/class="gap-label"/g), 2, 'the lane answered throughout has no gap');
    for (const lane of ['10.0.0.16', '10.0.0.17', '10.0.0.18']) assert.ok(svg.includes(`>${lane}</text>`));
  });

  test('colours each node the same in every lane and in the legend', () => {
    const fills = (who: string) =>
      new Set([...svg.matchAll(new RegExp(`fill="(#[0-9a-f]{6})"><title>${who} `, 'g'))].map((m) => m[1]));
    assert.equal(fills('n1').size, 1);
    assert.equal(fills('n3').size, 1);
    assert.notDeepEqual([...fills('n1')], [...fills('n3')]);
    assert.equal(count(/class="legend"/g), 3);
  });

  test('caps the lanes and says how many are hidden', () => {
    const many = renderTimelineSvg({
      title: 't',
      fromMs: 0,
      toMs: 100,
      probeIntervalMs: 10,
      lanes: Array.from({ length: 7 }, (_, i) => ({ label: `v${i}`, answers: run('n1', 0, 100) })),
      marks: [],
      maxLanes: 5,
    });
    assert.equal((many.match(/class="seg"/g) ?? []).length, 5);
    assert.ok(many.includes('… and 2 more lanes'));
  });
});
