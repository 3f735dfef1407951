/**
 * Plain SVG charts for model cards: a line/scatter chart on fixed axes and a horizontal interval
 * chart. No dependency: the cards need a few axes, polylines and labels, which is less code than
 * adapting a DOM-based plotting library to Node, and the output is deterministic (tests compare
 * coordinates with the metrics they come from).
 *
 * Every data element carries `data-series` / `data-x` / `data-y` attributes with the unscaled
 * values, so a reader (or a test) can recover the numbers from the SVG.
 */

export interface Axis {
  label: string;
  min: number;
  max: number;
  /** Tick spacing in data units. */
  tick: number;
}

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  /** `line` joins points, `points` draws markers (e.g. calibration bins), `dashed` is a reference line. */
  style: 'line' | 'points' | 'dashed';
  color: string;
}

export interface LineChart {
  title: string;
  x: Axis;
  y: Axis;
  series: Series[];
}

export interface Interval {
  name: string;
  value: number;
  low: number;
  high: number;
  color: string;
}

export interface IntervalChart {
  title: string;
  axis: Axis;
  intervals: Interval[];
  /** Draws a vertical rule at this value (e.g. 0 for a difference). */
  rule?: number;
}

const WIDTH = 480;
const HEIGHT = 360;
const MARGIN = { left: 60, right: 20, top: 40, bottom: 50 };

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, ''));

function ticks(axis: Axis): number[] {
  if (!(axis.max > axis.min) || !(axis.tick > 0)) {
    throw new RangeError(
      `axis "${axis.label}" needs max > min and tick > 0 (got ${axis.min}..${axis.max} by ${axis.tick})`,
    );
  }
  const out: number[] = [];
  for (let v = axis.min; v <= axis.max + axis.tick * 1e-9; v += axis.tick) out.push(Number(v.toFixed(10)));
  return out;
}

function scaler(axis: Axis, from: number, to: number) {
  return (v: number) =>
    from + ((Math.min(axis.max, Math.max(axis.min, v)) - axis.min) / (axis.max - axis.min)) * (to - from);
}

function frame(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function axes(x: Axis, y: Axis, sx: (v: number) => number, sy: (v: number) => number): string[] {
  const left = MARGIN.left;
  const right = WIDTH - MARGIN.right;
  const top = MARGIN.top;
  const bottom = HEIGHT - MARGIN.bottom;
  const out = [
    `<g class="axis x-axis" data-label="${escapeXml(x.label)}">`,
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="black"/>`,
  ];
  for (const t of ticks(x)) {
    out.push(`<line x1="${sx(t)}" y1="${bottom}" x2="${sx(t)}" y2="${bottom + 5}" stroke="black"/>`);
    out.push(`<text x="${sx(t)}" y="${bottom + 18}" text-anchor="middle">${num(t)}</text>`);
  }
  out.push(
    `<text x="${(left + right) / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(x.label)}</text>`,
    '</g>',
  );
  out.push(
    `<g class="axis y-axis" data-label="${escapeXml(y.label)}">`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="black"/>`,
  );
  for (const t of ticks(y)) {
    out.push(`<line x1="${left - 5}" y1="${sy(t)}" x2="${left}" y2="${sy(t)}" stroke="black"/>`);
    out.push(`<line x1="${left}" y1="${sy(t)}" x2="${right}" y2="${sy(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 8}" y="${sy(t) + 4}" text-anchor="end">${num(t)}</text>`);
  }
  out.push(
    `<text x="16" y="${(top + bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + bottom) / 2})">${escapeXml(y.label)}</text>`,
    '</g>',
  );
  return out;
}

function legend(entries: { name: string; color: string; dashed?: boolean }[]): string[] {
  const out = ['<g class="legend">'];
  entries.forEach((e, i) => {
    const y = MARGIN.top + 12 + i * 16;
    const x = WIDTH - MARGIN.right - 150;
    out.push(
      `<line x1="${x}" y1="${y - 4}" x2="${x + 20}" y2="${y - 4}" stroke="${e.color}" stroke-width="2"${e.dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
      `<text x="${x + 26}" y="${y}">${escapeXml(e.name)}</text>`,
    );
  });
  out.push('</g>');
  return out;
}

export function lineChart(chart: LineChart): string {
  const sx = scaler(chart.x, MARGIN.left, WIDTH - MARGIN.right);
  const sy = scaler(chart.y, HEIGHT - MARGIN.bottom, MARGIN.top);
  const body = axes(chart.x, chart.y, sx, sy);
  for (const s of chart.series) {
    const name = escapeXml(s.name);
    body.push(`<g class="series" data-series="${name}">`);
    if (s.style === 'points') {
      for (const p of s.points) {
        body.push(
          `<circle cx="${sx(p.x).toFixed(2)}" cy="${sy(p.y).toFixed(2)}" r="4" fill="${s.color}" data-x="${p.x}" data-y="${p.y}"/>`,
        );
      }
    } else if (s.points.length > 0) {
      const coords = s.points.map((p) => `${sx(p.x).toFixed(2)},${sy(p.y).toFixed(2)}`).join(' ');
      const data = s.points.map((p) => `${p.x},${p.y}`).join(' ');
      body.push(
        `<polyline points="${coords}" fill="none" stroke="${s.color}" stroke-width="2"${s.style === 'dashed' ? ' stroke-dasharray="4 3"' : ''} data-points="${data}"/>`,
      );
    }
    body.push('</g>');
  }
  body.push(
    ...legend(chart.series.map((s) => ({ name: s.name, color: s.color, dashed: s.style === 'dashed' }))),
  );
  return frame(chart.title, body);
}

/** One row per interval: a marker at the value and a bar from low to high. */
export function intervalChart(chart: IntervalChart): string {
  const sx = scaler(chart.axis, MARGIN.left + 110, WIDTH - MARGIN.right);
  const bottom = HEIGHT - MARGIN.bottom;
  const row = (bottom - MARGIN.top) / Math.max(1, chart.intervals.length);
  const body = [`<g class="axis x-axis" data-label="${escapeXml(chart.axis.label)}">`];
  body.push(
    `<line x1="${sx(chart.axis.min)}" y1="${bottom}" x2="${sx(chart.axis.max)}" y2="${bottom}" stroke="black"/>`,
  );
  for (const t of ticks(chart.axis)) {
    body.push(`<line x1="${sx(t)}" y1="${bottom}" x2="${sx(t)}" y2="${bottom + 5}" stroke="black"/>`);
    body.push(`<text x="${sx(t)}" y="${bottom + 18}" text-anchor="middle">${num(t)}</text>`);
  }
  body.push(
    `<text x="${(sx(chart.axis.min) + sx(chart.axis.max)) / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(chart.axis.label)}</text>`,
    '</g>',
  );
  if (chart.rule !== undefined) {
    body.push(
      `<line class="rule" x1="${sx(chart.rule)}" y1="${MARGIN.top}" x2="${sx(chart.rule)}" y2="${bottom}" stroke="#888" stroke-dasharray="4 3"/>`,
    );
  }
  chart.intervals.forEach((iv, i) => {
    const y = MARGIN.top + row * (i + 0.5);
    body.push(
      `<g class="interval" data-series="${escapeXml(iv.name)}" data-value="${iv.value}" data-low="${iv.low}" data-high="${iv.high}">`,
      `<text x="${MARGIN.left + 100}" y="${y + 4}" text-anchor="end">${escapeXml(iv.name)}</text>`,
      `<line x1="${sx(iv.low).toFixed(2)}" y1="${y}" x2="${sx(iv.high).toFixed(2)}" y2="${y}" stroke="${iv.color}" stroke-width="3"/>`,
      `<circle cx="${sx(iv.value).toFixed(2)}" cy="${y}" r="5" fill="${iv.color}"/>`,
      '</g>',
    );
  });
  return frame(chart.title, body);
}
