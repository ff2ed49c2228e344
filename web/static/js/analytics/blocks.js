// The blocks of the Performance page (SPEC 11.3), each a card fed by one /api/analytics answer.
// Every figure arrives rounded by the engine's display rules ("n/a" when undefined); the page
// only dresses it (format.js). Tables sort and filter (table.js).
import { html } from '../html.js';
import { Card, Progress, Stat } from '../ui.js';
import { DataTable } from '../table.js';
import * as f from '../format.js';
import { BarChart, TimeChart, cssVar } from './charts.js';

const money = (v) => html`<span class=${f.tone(v)}>${f.usd(v)}</span>`;
const pct = (v) => (v === 'n/a' ? 'n/a' : f.pct(v));

export function PnlBlock({ s }) {
  const p = s.pnl;
  const byPeriod = p.realized_by_period_usd;
  const table = (key, label, fmt = (v) => v) => html`<${DataTable} id=${`analytics-${key}`} filter=${false} pageSize=${10}
    rowKey=${(r) => r[key]} rows=${p[`by_${key}`]} empty="No realized PnL yet."
    columns=${[{ key, label, value: (r) => r[key], render: (r) => fmt(r[key]) },
      { key: 'realized_usd', label: 'Realized', num: true, value: (r) => r.realized_usd, render: (r) => money(r.realized_usd) },
      { key: 'trades', label: 'Trades closed', num: true, value: (r) => r.trades }]} />`;
  return html`<${Card} title="PnL" cls="wide" >
    <div class="grid" data-test="pnl-periods">
      ${['day', 'week', 'month', 'all'].map((k) => html`<${Stat} key=${k} test=${`pnl-${k}`}
        label=${{ day: 'Today', week: 'This week', month: 'This month', all: 'All time' }[k]}
        value=${money(byPeriod[k])} sub="realized" />`)}
      <${Stat} test="pnl-unrealized" label="Unrealized" value=${money(p.unrealized_usd)} sub="open groups, fees excluded" />
    </div>
    <div class="split-3">
      <div><h3>Per pair</h3>${table('pair', 'Pair')}</div>
      <div><h3>Per timeframe</h3>${table('timeframe', 'Timeframe', f.tf)}</div>
      <div><h3>Per strategy</h3>${table('strategy', 'Strategy')}</div>
    </div>
  </${Card}>`;
}

export function EquityBlock({ realized, total, actions }) {
  const text = cssVar('--text');
  return html`<${Card} title="Equity curve" cls="wide" actions=${actions}>
    <div data-test="equity">
      <${TimeChart} name="equity" ts=${total.ts} label=${`Equity curve: ${total.points} points`}
        series=${[{ label: 'Total equity', values: total.equity_usd, color: cssVar('--info') },
          { label: 'Realized equity', values: realized.equity_usd, color: text }]} />
      <h3>Drawdown</h3>
      <${TimeChart} name="drawdown" ts=${total.ts} height=${180} label="Drawdown of total equity in percent"
        series=${[{ label: 'Drawdown %', values: total.drawdown_percent.map((v) => (v === '0.00' ? v : `-${v}`)),
          color: cssVar('--neg'), fill: 'rgba(248, 81, 73, 0.15)' }]} />
      ${!total.points && html`<p class="muted">No equity snapshot yet: one is taken every 5 minutes.</p>`}
    </div>
  </${Card}>`;
}

export function WinLossBlock({ s }) {
  const w = s.win_loss;
  return html`<${Card} title="Win / loss">
    <dl class="facts" data-test="win-loss">
      <dt>Closed trades</dt><dd>${f.count(w.trades)} (${w.wins} won, ${w.losses} lost)</dd>
      <dt>Win rate</dt><dd data-test="win-rate">${pct(w.win_rate_percent)}</dd>
      <dt>Average win</dt><dd>${money(w.avg_win_usd)}</dd>
      <dt>Average loss</dt><dd>${money(w.avg_loss_usd)}</dd>
      <dt>Reward / risk</dt><dd>${w.rr}</dd>
      ${['long', 'short'].map((side) => html`<dt key=${side}>${f.words(side)}</dt>
        <dd>${f.count(w[side].trades)} trades · win rate ${pct(w[side].win_rate_percent)} · ${money(w[side].pnl_usd)}</dd>`)}
    </dl>
  </${Card}>`;
}

export function RiskBlock({ s }) {
  const r = s.risk;
  return html`<${Card} title="Risk">
    <dl class="facts" data-test="risk-metrics">
      <dt>Max drawdown</dt><dd>${pct(r.max_drawdown_percent)}</dd>
      <dt>Current drawdown</dt><dd>${pct(r.current_drawdown_percent)}</dd>
      <dt>Sharpe (daily, √365)</dt><dd data-test="sharpe">${r.sharpe}</dd>
      <dt>Sortino</dt><dd>${r.sortino}</dd>
      <dt>Daily returns</dt><dd>${f.count(r.daily_returns)}${r.daily_returns < 2 ? ' (2 needed)' : ''}</dd>
      <dt>Profit factor</dt><dd>${r.profit_factor}</dd>
    </dl>
  </${Card}>`;
}

const tradeColumns = [
  { key: 'pair', label: 'Pair', value: (t) => `${t.pair} ${f.tf(t.timeframe)}`, render: (t) => html`<a href=${`/groups/${t.group_id}`}>${t.pair} ${f.tf(t.timeframe)}</a>` },
  { key: 'side', label: 'Side', value: (t) => t.side },
  { key: 'closed_at', label: 'Closed', value: (t) => t.closed_at, render: (t) => f.time(t.closed_at, { seconds: false }) },
  { key: 'pnl_usd', label: 'PnL', num: true, value: (t) => t.pnl_usd, render: (t) => money(t.pnl_usd) },
  { key: 'return_percent', label: 'Return', num: true, value: (t) => t.return_percent, render: (t) => f.signedPct(t.return_percent) },
];

export function DistributionBlock({ d }) {
  const bins = d.histogram;
  return html`<${Card} title="Distribution" cls="wide">
    <div data-test="distribution">
      <h3>Trade returns (1 % bins)</h3>
      ${bins.length ? html`<${BarChart} name="histogram" x=${bins.map((b) => Number(b.from_percent) + 0.5)}
        values=${bins.map((b) => String(b.trades))} color=${cssVar('--info')} xLabel="return %"
        label=${`Histogram of ${bins.reduce((n, b) => n + b.trades, 0)} trade returns`} />`
        : html`<p class="muted">No closed trade in this period.</p>`}
      <div class="split-2">
        <div data-test="best"><h3>Best 10</h3><${DataTable} id="analytics-best" filter=${false} pageSize=${10}
          rowKey=${(t) => t.group_id} rows=${d.best} columns=${tradeColumns} empty="No trade yet." /></div>
        <div data-test="worst"><h3>Worst 10</h3><${DataTable} id="analytics-worst" filter=${false} pageSize=${10}
          rowKey=${(t) => t.group_id} rows=${d.worst} columns=${tradeColumns} empty="No trade yet." /></div>
      </div>
    </div>
  </${Card}>`;
}

// A cell's background: green for a gain, red for a loss, stronger the larger |PnL| is.
function heat(pnl, scale) {
  const v = Number(pnl);
  const s = Number(scale);
  if (!s || !v) return undefined;
  const a = Math.min(1, Math.abs(v) / s) * 0.65 + 0.08;
  return v > 0 ? `rgba(63, 185, 80, ${a.toFixed(2)})` : `rgba(248, 81, 73, ${a.toFixed(2)})`;
}

export function HeatmapBlock({ h }) {
  const cells = new Map(h.cells.map((c) => [`${c.pair}|${c.timeframe}`, c]));
  return html`<${Card} title="Pair × timeframe" cls="half">
    ${h.pairs.length ? html`<div class="table-wrap"><table class="data heatmap" data-test="heatmap">
      <thead><tr><th>Pair</th>${h.timeframes.map((tf) => html`<th class="num" key=${tf}>${f.tf(tf)}</th>`)}</tr></thead>
      <tbody>${h.pairs.map((pair) => html`<tr key=${pair}><th scope="row">${pair}</th>
        ${h.timeframes.map((tf) => {
          const c = cells.get(`${pair}|${tf}`);
          return html`<td key=${tf} class="num" data-cell=${`${pair}|${tf}`} style=${{ background: c && heat(c.pnl_usd, h.scale_usd) }}
            title=${c ? `${pair} ${f.tf(tf)}: ${c.pnl_usd} over ${c.trades} trades` : 'no trade'}>
            ${c ? html`${f.usd(c.pnl_usd)}<br /><span class="muted">${c.trades} trades</span>` : '—'}</td>`;
        })}</tr>`)}</tbody></table></div>`
      : html`<p class="muted" data-test="heatmap">No closed trade in this period.</p>`}
  </${Card}>`;
}

export function DailyBlock({ daily }) {
  const t = daily.today;
  const days = [...daily.days].reverse();
  const ts = days.map((d) => Date.parse(`${d.day}T00:00:00Z`));
  return html`<${Card} title="Daily" cls="wide">
    <div class="grid" data-test="daily-snapshot">
      <${Stat} label="Fills today" value=${f.count(t.fills)} />
      <${Stat} label="Volume today" value=${f.usd(t.volume_usd)} />
      <${Stat} label="Realized today" value=${money(t.realized_usd)} />
      <${Stat} label="Best / worst symbol" value=${`${t.best_symbol || '—'} / ${t.worst_symbol || '—'}`} sub=${`day ${t.day} (${daily.timezone})`} />
    </div>
    <h3>Realized PnL per day</h3>
    ${days.length ? html`<${BarChart} name="daily" time=${true} x=${ts} values=${days.map((d) => d.realized_usd)}
      label=${`Realized PnL of ${days.length} days`} />` : html`<p class="muted">No day recorded yet.</p>`}
  </${Card}>`;
}

export function AllocationBlock({ a }) {
  const tvl = a.tvl;
  return html`<${Card} title="Capital allocation & TVL" cls="wide">
    <div class="grid" data-test="allocation">
      <${Stat} label="Pool used" value=${`${a.pool.used} / ${a.pool.max}`}
        sub=${html`<${Progress} value=${a.pool.used_percent} text=${pct(a.pool.used_percent)} label="Pool used" />`} />
      <${Stat} label="Locked in DCA legs" value=${pct(a.locked_in_dca_percent)} sub=${`${f.usd(a.entry_orders_usd)} in open entry orders`} />
      <${Stat} test="tvl" label="TVL: deployed vs free" value=${`${f.usd(tvl.deployed_usd)} / ${f.usd(tvl.free_usd)}`}
        sub=${html`<${Progress} value=${tvl.deployed_percent} text=${`${pct(tvl.deployed_percent)} deployed`} label="Capital deployed" />`} />
    </div>
    <${DataTable} id="analytics-exposure" filter=${false} pageSize=${20} rowKey=${(r) => r.pair} rows=${a.pairs}
      empty="Nothing open." columns=${[
        { key: 'pair', label: 'Pair', value: (r) => r.pair },
        { key: 'groups', label: 'Groups', num: true, value: (r) => r.groups },
        { key: 'qty', label: 'Open qty', num: true, value: (r) => r.qty },
        { key: 'exposure_usd', label: 'Exposure', num: true, value: (r) => r.exposure_usd, render: (r) => f.usd(r.exposure_usd) },
        { key: 'cost_usd', label: 'Cost basis', num: true, value: (r) => r.cost_usd, render: (r) => f.usd(r.cost_usd) },
        { key: 'entry_orders_usd', label: 'Open entry orders', num: true, value: (r) => r.entry_orders_usd, render: (r) => f.usd(r.entry_orders_usd) },
      ]} />
  </${Card}>`;
}

export function LadderBlock({ l }) {
  return html`<${Card} title="Ladder tuning" cls="wide">
    <div class="split-3" data-test="ladder">
      <div><h3>Per leg</h3><${DataTable} id="analytics-legs" filter=${false} pageSize=${10} rowKey=${(r) => r.index} rows=${l.legs}
        empty="No closed trade yet." columns=${[
          { key: 'leg', label: 'Leg', value: (r) => r.index, render: (r) => r.leg },
          { key: 'fill', label: 'Filled', num: true, value: (r) => r.fill_rate_percent, render: (r) => `${r.filled} / ${r.placed} (${pct(r.fill_rate_percent)})` },
          { key: 'time', label: 'Avg time to fill', num: true, value: (r) => r.avg_time_to_fill_ms, render: (r) => f.duration(r.avg_time_to_fill_ms) },
          { key: 'share', label: 'Profit share', num: true, value: (r) => r.profit_share_percent, render: (r) => html`${pct(r.profit_share_percent)} <span class="muted">${f.usd(r.realized_usd)}</span>` },
        ]} /></div>
      <div><h3>Per pyramid count</h3><${DataTable} id="analytics-pyramids" filter=${false} pageSize=${10} rowKey=${(r) => r.pyramids} rows=${l.pyramids}
        columns=${[
          { key: 'pyramids', label: 'Reached', value: (r) => r.pyramids, render: (r) => `${r.pyramids} pyramid${r.pyramids > 1 ? 's' : ''}` },
          { key: 'groups', label: 'Groups', num: true, value: (r) => r.groups },
          { key: 'win', label: 'Win rate', num: true, value: (r) => r.win_rate_percent, render: (r) => pct(r.win_rate_percent) },
          { key: 'avg', label: 'Avg PnL', num: true, value: (r) => r.avg_pnl_usd, render: (r) => money(r.avg_pnl_usd) },
        ]} /></div>
      <div><h3>Time in trade</h3>
        <${BarChart} name="time-in-trade" x=${l.time_in_trade.map((_, i) => i)} values=${l.time_in_trade.map((b) => String(b.trades))}
          color=${cssVar('--info')} height=${200} label="Trades per time-in-trade bucket"
          labels=${l.time_in_trade.map((b) => b.bucket)} />
        <p class="muted">${l.time_in_trade.map((b) => `${b.bucket}: ${b.trades}`).join(' · ')}</p></div>
    </div>
  </${Card}>`;
}

export function RiskLedgerBlock({ r }) {
  const t = r.total;
  return html`<${Card} title="Risk Engine ledger" cls="wide">
    <dl class="facts" data-test="risk-ledger">
      <dt>Actions</dt><dd>${f.count(t.actions)} (${f.count(t.executed)} executed)</dd>
      <dt>Losses closed</dt><dd>${money(t.loss_closed_usd)}</dd>
      <dt>Profit spent from winners</dt><dd>${money(t.profit_spent_usd)}</dd>
      <dt>Fees / slippage</dt><dd>${f.usd(t.fees_usd)} / ${f.usd(t.slippage_usd)}</dd>
      <dt>Net effect</dt><dd>${money(t.net_usd)}</dd>
    </dl>
    <${DataTable} id="analytics-risk-ledger" filter=${false} pageSize=${10} rowKey=${(a) => a.id} rows=${r.actions}
      empty="The Risk Engine has not acted." columns=${[
        { key: 'ts', label: 'Time', value: (a) => a.ts, render: (a) => f.time(a.ts, { seconds: false }) },
        { key: 'outcome', label: 'Outcome', value: (a) => a.outcome, render: (a) => f.words(a.outcome) },
        { key: 'loss', label: 'Loss closed', num: true, value: (a) => a.loss_closed_usd, render: (a) => money(a.loss_closed_usd) },
        { key: 'profit', label: 'Profit spent', num: true, value: (a) => a.profit_spent_usd, render: (a) => money(a.profit_spent_usd) },
        { key: 'fees', label: 'Fees', num: true, value: (a) => a.fees_usd, render: (a) => f.usd(a.fees_usd) },
        { key: 'slip', label: 'Slippage', num: true, value: (a) => a.slippage_usd, render: (a) => f.usd(a.slippage_usd) },
        { key: 'net', label: 'Net', num: true, value: (a) => a.net_usd, render: (a) => money(a.net_usd) },
      ]} />
  </${Card}>`;
}
