// The Performance page's charts (uPlot): lines over time (equity, drawdown) and bars (daily
// PnL, the returns histogram), plus the PNG export of any of them, drawn by the browser from
// the chart's own canvas. The API's decimal strings are parsed for drawing only.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from '../html.js';
import { usePrefs } from '../prefs.js';
import { cssVar, loadCss } from '../chart.js';

export { cssVar };
const num = (v) => (v === null || v === undefined || v === '' || v === 'n/a' ? null : Number(v));

// Every chart on the page by name, for the PNG export buttons.
const plots = new Map();

// The chart `name` as a PNG file: its canvas on the page's background, with its title.
export function exportPng(name, title) {
  const plot = plots.get(name);
  if (!plot) return false;
  const src = plot.ctx.canvas;
  const head = 28;
  const out = document.createElement('canvas');
  out.width = src.width;
  out.height = src.height + head;
  const ctx = out.getContext('2d');
  ctx.fillStyle = cssVar('--panel') || '#ffffff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = cssVar('--text') || '#000000';
  ctx.font = '16px system-ui, sans-serif';
  ctx.fillText(title, 8, 20);
  ctx.drawImage(src, 0, head);
  const a = document.createElement('a');
  a.href = out.toDataURL('image/png');
  a.download = `${name}.png`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  return true;
}

function axes(yLabelSize = 80) {
  const muted = cssVar('--muted');
  const grid = { stroke: cssVar('--border'), width: 1 };
  return [{ stroke: muted, grid, ticks: grid }, { stroke: muted, grid, ticks: grid, size: yLabelSize }];
}

function usePlot(name, make, deps) {
  const box = useRef(null);
  const p = usePrefs();
  useEffect(() => {
    loadCss();
    const el = box.current;
    if (!el) return undefined;
    const [opts, data] = make(el.clientWidth || 600, p);
    const plot = new uPlot(opts, data, el);
    plots.set(name, plot);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: opts.height }));
    resize.observe(el);
    return () => { resize.disconnect(); plots.delete(name); plot.destroy(); };
  }, [...deps, p.theme, p.tz, p.fontSize]);
  return box;
}

const tzDate = (p) => (p.tz === 'utc' ? (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : (ts) => new Date(ts * 1000));

// Lines over time: ts in UTC ms, each series { label, values (decimal strings), color }.
export function TimeChart({ name, ts, series, height = 280, label }) {
  const box = usePlot(name, (width, p) => [{
    width, height, legend: { show: true }, cursor: { points: { show: false } }, tzDate: tzDate(p),
    scales: { x: { time: true } }, axes: axes(),
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.6,
      fill: s.fill, points: { show: false }, spanGaps: true }))],
  }, [ts.map((t) => Math.floor(t / 1000)), ...series.map((s) => s.values.map(num))]], [ts, series]);
  return html`<div class="chart analytics-chart" ref=${box} role="img" data-chart=${name}
    data-points=${ts.length} aria-label=${label}></div>`;
}

// Bars: x positions (numbers; time in ms when `time`), values (decimal strings), coloured by
// their sign (gain / loss) unless `color` is given; `labels` names the positions 0, 1, 2, …
export function BarChart({ name, x, values, time = false, height = 240, label, xLabel, color, labels }) {
  const box = usePlot(name, (width, p) => {
    const pos = cssVar('--pos');
    const neg = cssVar('--neg');
    const ys = values.map(num);
    const xs = time ? x.map((t) => Math.floor(t / 1000)) : x;
    return [{
      width, height, legend: { show: false }, cursor: { points: { show: false } }, tzDate: tzDate(p),
      scales: {
        x: { time, range: (u, lo, hi) => [lo - 0.5 * (time ? 86400 : 1), hi + 0.5 * (time ? 86400 : 1)] },
        y: { range: (u, lo, hi) => [Math.min(0, lo), Math.max(0, hi) || 1] }, // bars grow from 0
      },
      axes: [{ ...axes()[0], label: xLabel,
        ...(labels ? { values: (u, splits) => splits.map((i) => labels[i] ?? '') } : {}) }, axes()[1]],
      series: [{}, {
        label: 'value', width: 0, paths: uPlot.paths.bars({ size: [0.8, 60] }), points: { show: false },
        // above the zero line a gain's colour, below a loss's: a two-colour split at y = 0
        fill: color || ((u) => {
          const zero = u.valToPos(0, 'y', true);
          const split = u.ctx.createLinearGradient(0, zero - 0.5, 0, zero + 0.5);
          split.addColorStop(0, pos);
          split.addColorStop(1, neg);
          return split;
        }),
      }],
    }, [xs, ys]];
  }, [x, values]);
  return html`<div class="chart analytics-chart short" ref=${box} role="img" data-chart=${name}
    data-points=${x.length} aria-label=${label}></div>`;
}
