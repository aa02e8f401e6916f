// timeline-svg.ts — a failover as a picture: one lane per VIP (or per trial), a bar for each run of ARP/NDP
// answers from one node, coloured by node; the event (a kill, a stop) as a vertical line; a diamond where a lane's
// answers change node (a takeover); the longest silence after the event drawn in red and labelled with its length.
// Pure: answers in, SVG text out; the lab and bench/failover.ts write the file. No dependency, no clock.

/** TimelineAnswer is one answer seen by the client: when (ms, any origin shared by the input) and from whom. */
export interface TimelineAnswer {
  readonly t: number;
  readonly who: string;
}

/** TimelineLane is one row: a VIP (or one trial of one VIP) and its answers. */
export interface TimelineLane {
  readonly label: string;
  readonly answers: readonly TimelineAnswer[];
}

/** TimelineMark is an event drawn across every lane (a kill, a graceful stop). */
export interface TimelineMark {
  readonly t: number;
  readonly label: string;
}

/** TimelineInput: the window drawn, the lanes, the events, and the probe spacing (to tell a run from a silence). */
export interface TimelineInput {
  readonly title: string;
  readonly subtitle?: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly probeIntervalMs: number;
  readonly lanes: readonly TimelineLane[];
  readonly marks: readonly TimelineMark[];
  /** maxLanes caps the rows drawn (default 40); the rest are counted in a note. */
  readonly maxLanes?: number;
}

/** Segment is a run of answers from one node, with no silence longer than SILENCE_FACTOR probe intervals. */
export interface Segment {
  readonly who: string;
  readonly from: number;
  readonly to: number;
}

/** Gap is the longest silence of a lane that ends after the first event: who answered before and after. */
export interface Gap {
  readonly from: number;
  readonly to: number;
  readonly before: string | undefined;
  readonly after: string | undefined;
}

/** SILENCE_FACTOR: answers further apart than this many probe intervals are a silence, not one run. */
export const SILENCE_FACTOR = 2.5;

const WIDTH = 960;
const LEFT = 170;
const RIGHT = 30;
const TOP = 80;
const LANE = 20;
const BAR = 12;
const PALETTE = ['#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f'];

/** segments splits a lane's answers into runs per node (sorted by time). */
export function segments(answers: readonly TimelineAnswer[], probeIntervalMs: number): Segment[] {
  const sorted = [...answers].sort((a, b) => a.t - b.t);
  const out: { who: string; from: number; to: number }[] = [];
  const silence = SILENCE_FACTOR * probeIntervalMs;
  for (const a of sorted) {
    const last = out.at(-1);
    if (last && last.who === a.who && a.t - last.to <= silence) last.to = a.t;
    else out.push({ who: a.who, from: a.t, to: a.t });
  }
  return out;
}

/** takeovers are the first answers of a lane from another node than the answer before them. */
export function takeovers(answers: readonly TimelineAnswer[]): TimelineAnswer[] {
  const sorted = [...answers].sort((a, b) => a.t - b.t);
  return sorted.filter((a, i) => i > 0 && sorted[i - 1]!.who !== a.who);
}

/** longestGap is the lane's longest silence ending after `after` (the first event), or undefined if none. */
export function longestGap(answers: readonly TimelineAnswer[], after: number): Gap | undefined {
  const sorted = [...answers].sort((a, b) => a.t - b.t);
  let best: Gap | undefined;
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.t < after) continue;
    if (!best || b.t - a.t > best.to - best.from) best = { from: a.t, to: b.t, before: a.who, after: b.who };
  }
  return best;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (n: number) => (Math.round(n * 10) / 10).toString();

/** niceStep picks an axis step of 1, 2 or 5 × 10^k giving about 8 ticks over `span`. */
function niceStep(span: number): number {
  const raw = span / 8;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** renderTimelineSvg draws the input; see the file comment. */
export function renderTimelineSvg(input: TimelineInput): string {
  const span = Math.max(1, input.toMs - input.fromMs);
  const plotW = WIDTH - LEFT - RIGHT;
  const x = (t: number) => LEFT + ((Math.min(Math.max(t, input.fromMs), input.toMs) - input.fromMs) / span) * plotW;
  const cap = input.maxLanes ?? 40;
  const lanes = input.lanes.slice(0, cap);
  const hidden = input.lanes.length - lanes.length;
  const whos = [...new Set(input.lanes.flatMap((l) => l.answers.map((a) => a.who)))].sort();
  const colour = new Map(whos.map((w, i) => [w, PALETTE[i % PALETTE.length]!]));
  const firstMark = Math.min(...input.marks.map((m) => m.t), Number.POSITIVE_INFINITY);
  const height = TOP + lanes.length * LANE + 46 + (hidden > 0 ? 16 : 0);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11" role="img">`,
    `<title>${esc(input.title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(input.title)}</text>`,
  );
  if (input.subtitle) out.push(`<text x="10" y="34" fill="#444">${esc(input.subtitle)}</text>`);
  // Legend: one swatch per node.
  let lx = LEFT;
  for (const w of whos) {
    out.push(
      `<rect class="legend" x="${num(lx)}" y="42" width="10" height="10" fill="${colour.get(w)}"/>`,
      `<text x="${num(lx + 14)}" y="51">${esc(w)}</text>`,
    );
    lx += 24 + w.length * 6.5;
  }
  out.push(
    `<text x="${WIDTH - RIGHT}" y="51" text-anchor="end" fill="#444">bars: ARP answers (probe every ${num(input.probeIntervalMs)} ms); ◆ takeover; red: longest silence</text>`,
  );
  // Axis with ticks relative to the first event (or the window start).
  const origin = Number.isFinite(firstMark) ? firstMark : input.fromMs;
  const axisY = TOP + lanes.length * LANE + 6;
  const step = niceStep(span);
  out.push(`<line x1="${LEFT}" y1="${axisY}" x2="${WIDTH - RIGHT}" y2="${axisY}" stroke="#000"/>`);
  for (let t = Math.ceil((input.fromMs - origin) / step) * step; origin + t <= input.toMs; t += step) {
    const tx = num(x(origin + t));
    out.push(
      `<line x1="${tx}" y1="${TOP - 4}" x2="${tx}" y2="${axisY + 4}" stroke="#eee"/>`,
      `<text x="${tx}" y="${axisY + 16}" text-anchor="middle">${num(t)}</text>`,
    );
  }
  out.push(
    `<text x="${WIDTH - RIGHT}" y="${axisY + 32}" text-anchor="end">ms after ${Number.isFinite(firstMark) ? esc(input.marks.find((m) => m.t === firstMark)!.label) : 'start'}</text>`,
  );
  lanes.forEach((lane, i) => {
    const y = TOP + i * LANE;
    out.push(`<text x="${LEFT - 6}" y="${y + BAR - 2}" text-anchor="end">${esc(lane.label)}</text>`);
    const inWindow = lane.answers.filter((a) => a.t >= input.fromMs && a.t <= input.toMs);
    for (const s of segments(inWindow, input.probeIntervalMs)) {
      const w = Math.max(1.5, x(s.to) - x(s.from));
      out.push(
        `<rect class="seg" x="${num(x(s.from))}" y="${y}" width="${num(w)}" height="${BAR}" fill="${colour.get(s.who)}"><title>${esc(s.who)} ${num(s.from - origin)}..${num(s.to - origin)} ms</title></rect>`,
      );
    }
    const gap = longestGap(inWindow, origin);
    if (gap && gap.to - gap.from > SILENCE_FACTOR * input.probeIntervalMs) {
      const gy = y + BAR / 2;
      const ms = gap.to - gap.from;
      out.push(
        `<line class="gap" x1="${num(x(gap.from))}" y1="${gy}" x2="${num(x(gap.to))}" y2="${gy}" stroke="#d62728" stroke-width="2"/>`,
        `<text class="gap-label" x="${num((x(gap.from) + x(gap.to)) / 2)}" y="${y - 1}" text-anchor="middle" fill="#d62728">gap ${num(ms)} ms</text>`,
      );
    }
    for (const t of takeovers(inWindow)) {
      const tx = x(t.t);
      const cy = y + BAR / 2;
      out.push(
        `<path class="takeover" d="M${num(tx)} ${cy - 6} L${num(tx + 5)} ${cy} L${num(tx)} ${cy + 6} L${num(tx - 5)} ${cy} Z" fill="#000"><title>${esc(t.who)} at ${num(t.t - origin)} ms</title></path>`,
      );
    }
  });
  for (const m of input.marks) {
    const mx = num(x(m.t));
    out.push(
      `<line class="mark" x1="${mx}" y1="${TOP - 8}" x2="${mx}" y2="${axisY}" stroke="#d62728" stroke-dasharray="4 3"/>`,
      `<text x="${mx}" y="${TOP - 10}" text-anchor="middle" fill="#d62728">${esc(m.label)}</text>`,
    );
  }
  if (hidden > 0) out.push(`<text x="${LEFT}" y="${height - 6}" fill="#444">… and ${hidden} more lanes</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
