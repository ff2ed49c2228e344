// One group: its figures, the price chart with its levels and fills, the legs by pyramid, the
// orders, fills and events. Refreshed whenever the group's row in the live list changes.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get } from '../api.js';
import { useTopic } from '../live.js';
import { Badge, Card, Loading } from '../ui.js';
import { DataTable } from '../table.js';
import { PriceChart } from '../chart.js';
import { CloseGroupButton, LegsByPyramid, useGroupDetail } from '../groups_table.js';
import * as f from '../format.js';

// Without the chart API (or before the engine runs) the chart is drawn from the detail's own
// legs and fills, without price bars.
function fallbackChart(d) {
  const filled = (l) => Number(l.filled_quantity) > 0;
  return {
    symbol: d.symbol, side: d.side, from_ms: d.created_at, to_ms: d.closed_at || Date.now(), bars: [],
    levels: {
      legs: d.legs.map((l) => ({ price: l.planned_price, filled: filled(l), pyramid: l.pyramid, leg: l.leg })),
      tps: d.legs.filter((l) => l.tp_target === 'leg' && l.tp_price && filled(l))
        .map((l) => ({ price: l.tp_price, pyramid: l.pyramid, leg: l.leg, state: l.tp_state })),
      avg_entry: d.avg_entry, aggregate_target: d.aggregate_target,
    },
    fills: d.fills.map((x) => ({ t_ms: x.ts, price: x.price, qty: x.quantity, side: x.side })),
  };
}

function useChart(id, version, detail) {
  const [state, setState] = useState({ chart: null, note: '' });
  useEffect(() => {
    let alive = true;
    get(`/api/groups/${id}/chart`).then(
      (c) => alive && setState({ chart: c, note: c.bars?.length ? '' : 'No price bars recorded for this period yet.' }),
      (e) => alive && setState({ chart: null, note: `Price history unavailable (${e.message}): levels and fills only.` }),
    );
    return () => { alive = false; };
  }, [id, version]);
  if (state.chart) return state;
  return detail ? { chart: fallbackChart(detail), note: state.note } : state;
}

const PURPOSE = { e: 'entry', t: 'leg TP', a: 'aggregate TP', x: 'exit close', r: 'risk close', d: 'reduce close', m: 'manual close' };

const ORDER_COLUMNS = [
  { key: 'id', label: 'Client order id', value: (o) => o.client_order_id, render: (o) => html`<span class="mono">${o.client_order_id}</span>` },
  { key: 'purpose', label: 'Purpose', value: (o) => PURPOSE[o.purpose] || o.purpose },
  { key: 'leg', label: 'Leg', value: (o) => (o.leg === null ? '' : `P${o.pyramid}-DCA${o.leg}`) },
  { key: 'type', label: 'Type', value: (o) => `${o.type} ${o.side}` },
  { key: 'price', label: 'Price', num: true, value: (o) => o.price },
  { key: 'qty', label: 'Quantity', num: true, value: (o) => o.quantity },
  { key: 'filled', label: 'Filled', num: true, value: (o) => o.filled_quantity },
  { key: 'avg', label: 'Avg price', num: true, value: (o) => o.average_price },
  { key: 'state', label: 'State', value: (o) => o.state, render: (o) => html`<${Badge} value=${o.state} />` },
  { key: 'created', label: 'Created', value: (o) => o.created_at, render: (o) => f.time(o.created_at) },
  { key: 'error', label: 'Error', value: (o) => o.error || '', wrap: true },
];

const FILL_COLUMNS = [
  { key: 'ts', label: 'Time', value: (x) => x.ts, render: (x) => f.time(x.ts) },
  { key: 'side', label: 'Side', value: (x) => x.side },
  { key: 'price', label: 'Price', num: true, value: (x) => x.price },
  { key: 'qty', label: 'Quantity', num: true, value: (x) => x.quantity },
  { key: 'fee', label: 'Fee', num: true, value: (x) => `${x.fee} ${x.fee_currency || ''}` },
  { key: 'trade', label: 'Trade id', value: (x) => x.trade_id },
  { key: 'order', label: 'Order', value: (x) => x.client_order_id, render: (x) => html`<span class="mono">${x.client_order_id}</span>` },
];

const EVENT_COLUMNS = [
  { key: 'ts', label: 'Time', value: (e) => e.ts, render: (e) => f.time(e.ts) },
  { key: 'level', label: 'Level', value: (e) => e.level, render: (e) => html`<${Badge} value=${e.level} />` },
  { key: 'category', label: 'Category', value: (e) => e.category },
  { key: 'message', label: 'Message', value: (e) => e.message, wrap: true },
];

function Facts({ d }) {
  const t = d.timer || {};
  return html`<dl class="facts">
    <dt>Pyramids</dt><dd>${d.pyramids_received} / ${d.pyramids_max}</dd>
    <dt>DCA filled</dt><dd>${d.legs_filled} / ${d.legs_total}</dd>
    <dt>Average entry</dt><dd>${f.price(d.avg_entry, d.symbol)}</dd>
    <dt>Current price</dt><dd>${f.price(d.current_price, d.symbol)}</dd>
    <dt>Open quantity</dt><dd>${f.qty(d.open_quantity)}</dd>
    <dt>Unrealized PnL</dt><dd class=${f.tone(d.unrealized_pnl_usd)}>${f.usdUnit(d.unrealized_pnl_usd)} (${f.signedPct(d.unrealized_pnl_percent)})</dd>
    <dt>Realized PnL</dt><dd class=${f.tone(d.realized_pnl_usd)}>${f.usdUnit(d.realized_pnl_usd)}</dd>
    <dt>Fees</dt><dd>${f.usdUnit(d.fees_usd)}</dd>
    <dt>TP mode</dt><dd>${d.tp_mode}${d.aggregate_target ? ` · aggregate target ${f.price(d.aggregate_target, d.symbol)}` : ''}</dd>
    <dt>Risk timer</dt><dd>${t.started_at ? `started ${f.time(t.started_at)} · ${t.remaining_ms != null ? `${f.duration(t.remaining_ms)} left` : ''}`
      : `not started (${f.words(t.start_condition)})`}</dd>
    <dt>Opened</dt><dd>${f.time(d.created_at)}</dd>
    ${d.closed_at && html`<dt>Closed</dt><dd>${f.time(d.closed_at)} · ${f.words(d.close_reason)}</dd>`}
  </dl>`;
}

export default function Group({ params }) {
  const id = Number(params.id);
  const groups = useTopic('groups');
  const row = groups?.groups.find((g) => g.id === id && g.status !== 'waiting');
  const version = row ? `${row.updated_at}|${row.status}` : '';
  const [detail, error] = useGroupDetail(id, version);
  const { chart, note } = useChart(id, version, detail);
  if (!Number.isInteger(id)) return html`<p>“${params.id}” is not a group id. <a href="/positions">Back to positions</a></p>`;
  if (error) return html`<p class="neg" role="alert">${error.message}</p><p><a href="/positions">Back to positions</a></p>`;
  if (!detail) return html`<${Loading} what=${`group ${id}`} />`;
  const d = { ...detail, ...(row || {}) };
  return html`
    <div class="pyramid-head" data-test="group-head">
      <h2>${f.pair(d)} · ${d.side} · group ${d.id}</h2>
      <${Badge} value=${d.status} label=${f.words(d.status)} />
      <${CloseGroupButton} row=${d} small=${false} />
    </div>
    <div class="split">
      <${Card} title="Figures"><${Facts} d=${d} /></${Card}>
      <${Card} title="Price chart">${chart ? html`<${PriceChart} chart=${chart} note=${note} />` : html`<${Loading} what="the chart" />`}</${Card}>
    </div>
    <${Card} title="Legs by pyramid" cls="section"><${LegsByPyramid} detail=${detail} /></${Card}>
    <h2>Orders</h2>
    <${DataTable} id="group-orders" rows=${detail.orders} columns=${ORDER_COLUMNS} rowKey=${(o) => o.client_order_id} pageSize=${25} />
    <h2>Fills</h2>
    <${DataTable} id="group-fills" rows=${detail.fills} columns=${FILL_COLUMNS} rowKey=${(x) => x.trade_id + x.client_order_id} pageSize=${25} />
    <h2>Events</h2>
    <${DataTable} id="group-events" rows=${detail.events} columns=${EVENT_COLUMNS} rowKey=${(e) => e.id} pageSize=${25} />`;
}
