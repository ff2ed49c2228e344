// The group's price chart (uPlot): the symbol's price over the group's life with a horizontal
// line per leg (filled solid, planned-only dashed), each TP price (dotted), the average entry,
// the aggregate target, and a marker at every fill. Numbers are parsed for drawing only.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './html.js';
import { usePrefs } from './prefs.js';
import * as f from './format.js';

let cssLoaded = false;
export function loadCss() {
  if (cssLoaded) return;
  cssLoaded = true;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = '/static/vendor/uplot/uPlot.min.css';
  document.head.appendChild(link);
}

export const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const n = (v) => (v === null || v === undefined || v === '' ? null : Number(v));

// The lines to draw, from the chart answer's levels (or the same figures of the group detail).
export function chartLines(levels) {
  const lines = [];
  for (const l of levels.legs || []) {
    lines.push({ key: `P${l.pyramid}-DCA${l.leg}`, label: `P${l.pyramid}-DCA${l.leg} ${l.filled ? 'filled' : 'planned'}`,
      value: n(l.price), text: l.price, kind: l.filled ? 'filled' : 'planned' });
  }
  for (const t of levels.tps || []) {
    lines.push({ key: `TP P${t.pyramid}-DCA${t.leg}`, label: `TP P${t.pyramid}-DCA${t.leg}`, value: n(t.price), text: t.price, kind: 'tp' });
  }
  if (levels.avg_entry) lines.push({ key: 'avg', label: 'Average entry', value: n(levels.avg_entry), text: levels.avg_entry, kind: 'avg' });
  if (levels.aggregate_target) lines.push({ key: 'target', label: 'Aggregate target', value: n(levels.aggregate_target), text: levels.aggregate_target, kind: 'target' });
  return lines.filter((l) => Number.isFinite(l.value));
}

function styleOf(kind) {
  const c = { filled: cssVar('--info'), planned: cssVar('--muted'), tp: cssVar('--pos'),
    avg: cssVar('--warn'), target: cssVar('--pos') }[kind];
  const dash = { planned: [6, 4], tp: [2, 4] }[kind];
  const width = kind === 'avg' || kind === 'target' ? 2.5 : 1.25;
  return { stroke: c, dash, width };
}

function build({ bars, fills, lines, from, to }) {
  const xs = new Set([Math.floor(from / 1000), Math.floor(to / 1000)]);
  for (const b of bars) xs.add(Math.floor(b[0] / 1000));
  for (const fl of fills) xs.add(Math.floor(fl.t_ms / 1000));
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const price = new Array(x.length).fill(null);
  for (const b of bars) price[index.get(Math.floor(b[0] / 1000))] = n(b[4]);
  const buys = new Array(x.length).fill(null);
  const sells = new Array(x.length).fill(null);
  for (const fl of fills) (fl.side === 'sell' ? sells : buys)[index.get(Math.floor(fl.t_ms / 1000))] = n(fl.price);
  return [x, price, ...lines.map((l) => x.map(() => l.value)), buys, sells];
}

export function PriceChart({ chart, note }) {
  const box = useRef(null);
  const p = usePrefs();
  const lines = chartLines(chart.levels || {});
  useEffect(() => {
    loadCss();
    const el = box.current;
    if (!el) return undefined;
    const data = build({ bars: chart.bars || [], fills: chart.fills || [], lines, from: chart.from_ms, to: chart.to_ms });
    const muted = cssVar('--muted');
    const grid = { stroke: cssVar('--border'), width: 1 };
    const marker = (color) => ({ label: '', stroke: color, fill: color, width: 0, paths: () => null,
      points: { show: true, size: 9, stroke: color, fill: color } });
    const opts = {
      width: el.clientWidth || 600,
      height: el.clientWidth < 500 ? 260 : 340,
      legend: { show: false },
      cursor: { points: { show: false } },
      tzDate: p.tz === 'utc' ? (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : (ts) => new Date(ts * 1000),
      scales: { x: { time: true } },
      axes: [{ stroke: muted, grid, ticks: grid }, { stroke: muted, grid, ticks: grid, size: 70 }],
      series: [
        {},
        { label: 'Price', stroke: cssVar('--text'), width: 1.5, spanGaps: true,
          points: { show: (chart.bars || []).length <= 60, size: 4 } }, // a few bars: show each one
        ...lines.map((l) => ({ label: l.label, ...styleOf(l.kind), points: { show: false } })),
        marker(cssVar('--info')),
        marker(cssVar('--neg')),
      ],
    };
    const plot = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: opts.height }));
    resize.observe(el);
    return () => { resize.disconnect(); plot.destroy(); };
  }, [chart, p.theme, p.tz, p.fontSize]);
  const sym = chart.symbol;
  return html`<div>
    <div class="chart" ref=${box} role="img" data-series=${lines.length + 1} data-bars=${(chart.bars || []).length}
      data-fills=${(chart.fills || []).length}
      aria-label=${`Price chart of ${sym}: ${lines.length} price levels, ${(chart.fills || []).length} fills`}></div>
    ${note && html`<p class="muted">${note}</p>`}
    <div class="chart-key" aria-label="Chart key">
      <span style=${{ '--c': cssVar('--text') }}>Price</span>
      ${lines.map((l) => html`<span key=${l.key} data-line=${l.kind} class=${l.kind === 'planned' ? 'dashed' : l.kind === 'tp' ? 'dashed' : ''}
        style=${{ '--c': styleOf(l.kind).stroke }}>${l.label} ${f.price(l.text, sym)}</span>`)}
      <span class="dot" style=${{ '--c': cssVar('--info') }}>Buy fill</span>
      <span class="dot" style=${{ '--c': cssVar('--neg') }}>Sell fill</span>
    </div>
  </div>`;
}
