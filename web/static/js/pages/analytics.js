// The Performance & Portfolio page (SPEC 11.3): PnL, equity curves, win/loss, risk, the
// distribution and the pair × timeframe heatmap, daily figures, allocation and TVL, ladder
// tuning and the Risk Engine ledger. A period selector and pair / timeframe / strategy filters
// drive every trade figure; the equity CSV comes from the server, the PNGs from the browser.
// Live: the `analytics` topic changes when a trade closes or a snapshot is taken, and the page
// fetches its answers again (every 15 s instead while the live push is paused).
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { errorText, get, query } from '../api.js';
import { useLiveState, useTopic } from '../live.js';
import { Loading } from '../ui.js';
import * as f from '../format.js';
import { exportPng } from '../analytics/charts.js';
import {
  AllocationBlock, DailyBlock, DistributionBlock, EquityBlock, HeatmapBlock, LadderBlock,
  PnlBlock, RiskBlock, RiskLedgerBlock, WinLossBlock,
} from '../analytics/blocks.js';

const PERIODS = [['day', 'Today'], ['week', 'This week'], ['month', 'This month'], ['all', 'All time']];
const POLL_MS = 15_000;

async function loadAll(period, filters) {
  const q = (extra = {}) => query({ period, ...filters, ...extra });
  const base = '/api/analytics';
  const [summary, realized, total, distribution, heatmap, daily, allocation, ladder, ledger] = await Promise.all([
    get(`${base}/summary${q()}`, { action: 'Load the summary' }),
    get(`${base}/equity${query({ period, kind: 'realized' })}`, { action: 'Load the equity curve' }),
    get(`${base}/equity${query({ period, kind: 'total' })}`, { action: 'Load the equity curve' }),
    get(`${base}/distribution${q()}`, { action: 'Load the distribution' }),
    get(`${base}/heatmap${q()}`, { action: 'Load the heatmap' }),
    get(`${base}/daily`, { action: 'Load the daily figures' }),
    get(`${base}/allocation`, { action: 'Load the allocation' }),
    get(`${base}/ladder${q()}`, { action: 'Load the ladder figures' }),
    get(`${base}/risk-ledger`, { action: 'Load the Risk Engine ledger' }),
  ]);
  return { summary, realized, total, distribution, heatmap, daily, allocation, ladder, ledger };
}

function Filters({ period, setPeriod, filters, setFilters, options }) {
  const pick = (key) => (e) => setFilters({ ...filters, [key]: e.target.value });
  const select = (key, label, values, show = (v) => v) => html`<label>${label}
    <select aria-label=${label} value=${filters[key]} onChange=${pick(key)}>
      <option value="">All</option>
      ${values.map((v) => html`<option key=${v} value=${v}>${show(v)}</option>`)}
    </select></label>`;
  return html`<div class="toolbar analytics-filters" data-test="analytics-filters">
    <div class="actions" role="group" aria-label="Period">
      ${PERIODS.map(([p, label]) => html`<button key=${p} class=${`small${period === p ? ' primary' : ''}`}
        aria-pressed=${period === p ? 'true' : 'false'} onClick=${() => setPeriod(p)}>${label}</button>`)}
    </div>
    ${select('pair', 'Pair', options.pairs)}
    ${select('timeframe', 'Timeframe', options.timeframes, f.tf)}
    ${select('strategy', 'Strategy', options.strategies)}
  </div>`;
}

function ExportButtons({ period }) {
  const csv = (kind) => `/api/analytics/equity${query({ kind, period, format: 'csv' })}`;
  return html`<div class="actions" data-test="exports">
    <a class="button small" href=${csv('total')} download="equity-total.csv" data-test="csv-total">CSV total</a>
    <a class="button small" href=${csv('realized')} download="equity-realized.csv" data-test="csv-realized">CSV realized</a>
    <button class="small" data-test="png-equity" onClick=${() => exportPng('equity', 'Equity curve')}>PNG equity</button>
    <button class="small" data-test="png-drawdown" onClick=${() => exportPng('drawdown', 'Drawdown')}>PNG drawdown</button>
  </div>`;
}

export default function Analytics({ query: params }) {
  const [period, setPeriod] = useState(params?.get('period') || 'all');
  const [filters, setFilters] = useState({ pair: '', timeframe: '', strategy: '' });
  const [data, setData] = useState(null);
  const [options, setOptions] = useState({ pairs: [], timeframes: [], strategies: [] });
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  const topic = useTopic('analytics');
  const liveState = useLiveState();
  const generation = useRef(0);
  const signal = topic ? JSON.stringify(topic) : '';

  useEffect(() => {
    const mine = ++generation.current;
    loadAll(period, filters).then((next) => {
      if (mine !== generation.current) return; // a newer request superseded this one
      setData(next);
      setError(null);
    }).catch((e) => { if (mine === generation.current) setError(errorText(e)); });
  }, [period, filters.pair, filters.timeframe, filters.strategy, signal, tick]);

  useEffect(() => {
    if (liveState === 'live') return undefined;
    const t = setInterval(() => setTick((n) => n + 1), POLL_MS);
    return () => clearInterval(t);
  }, [liveState]);

  useEffect(() => { // the choices of an unfiltered all-time summary, whatever is shown
    get('/api/analytics/summary').then((s) => setOptions({ pairs: s.pnl.by_pair.map((r) => r.pair),
      strategies: s.pnl.by_strategy.map((r) => r.strategy), timeframes: s.pnl.by_timeframe.map((r) => r.timeframe) }))
      .catch(() => {});
  }, [signal]);

  const head = html`<${Filters} period=${period} setPeriod=${setPeriod} filters=${filters}
    setFilters=${setFilters} options=${options} />`;
  if (error && !data) return html`${head}<p class="neg" role="alert">${error}</p>`;
  if (!data) return html`${head}<${Loading} what="the analytics" />`;
  const s = data.summary;
  return html`${head}
    ${error && html`<p class="neg" role="alert">${error}</p>`}
    <p class="muted" data-test="analytics-basis">Capital base ${f.usd(s.capital_base_usd)} · total equity
      ${f.usd(s.equity.total_usd)} · realized equity ${f.usd(s.equity.realized_usd)} · day boundaries in ${s.timezone}
      · ${s.win_loss.trades} trades closed in this period</p>
    <div class="grid analytics" data-test="analytics" data-trades=${s.win_loss.trades}>
      <${PnlBlock} s=${s} />
      <${EquityBlock} realized=${data.realized} total=${data.total} actions=${html`<${ExportButtons} period=${period} />`} />
      <${WinLossBlock} s=${s} />
      <${RiskBlock} s=${s} />
      <${HeatmapBlock} h=${data.heatmap} />
      <${DistributionBlock} d=${data.distribution} />
      <${DailyBlock} daily=${data.daily} />
      <${AllocationBlock} a=${data.allocation} />
      <${LadderBlock} l=${data.ladder} />
      <${RiskLedgerBlock} r=${data.ledger} />
    </div>`;
}
