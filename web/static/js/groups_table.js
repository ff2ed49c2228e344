// Panel B's table (SPEC 11.5 B), shared by the dashboard and the positions page: one row per
// group or waiting entry; expanding a group shows its legs grouped by pyramid.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { get, post } from './api.js';
import { DataTable } from './table.js';
import { AdminButton, Badge, Progress, useAction, Loading } from './ui.js';
import { current, rowKey } from './live.js';
import * as f from './format.js';

export const OPEN = new Set(['live', 'partially_filled', 'active', 'closing']);
const CLOSABLE = new Set(['live', 'partially_filled', 'active']);
const LEG_STATE_TONE = { Open: 'info', 'Hit TP': 'good', Pending: 'idle', Cancelled: 'idle', Closed: 'idle' };

function configVisible(id) {
  return current('config')?.running?.ui?.column_visibility?.[id];
}

function Pnl({ usd, pct }) {
  if (usd === null || usd === undefined) return html`<span class="muted" title="no price yet">—</span>`;
  return html`<span class=${f.tone(usd)}>${f.signedPct(pct)} · ${f.usd(usd)}</span>`;
}

export function CloseGroupButton({ row, small = true }) {
  const [close, busy] = useAction('Close group', () => post(`/api/groups/${row.id}/close`),
    {
      confirmWith: {
        title: `Close ${f.pair(row)} (group ${row.id})?`,
        message: 'Resting entry and TP orders are cancelled and the whole open quantity is sold '
          + 'at market. The close reason is recorded as "manual". This cannot be undone.',
        confirmLabel: 'Close group', danger: true,
      },
      done: `Close of group ${row.id} requested`,
    });
  return html`<${AdminButton} cls=${`danger${small ? ' small' : ''}`} onClick=${() => close()} busy=${busy}
    disabled=${!CLOSABLE.has(row.status)} label=${`Close group ${row.id}`}>Close</${AdminButton}>`;
}

export function groupColumns({ actions = true } = {}) {
  const cols = [
    { key: 'pair', label: 'Pair / TF', fixed: true, value: (r) => f.pair(r),
      render: (r) => (r.status === 'waiting'
        ? html`<a href="/queue">${f.pair(r)}</a>`
        : html`<a href=${`/groups/${r.id}`}>${f.pair(r)}</a>`) },
    { key: 'side', label: 'Side', value: (r) => r.side },
    { key: 'pyramids', label: 'Pyramids', num: true, value: (r) => r.pyramids_received,
      render: (r) => `${r.pyramids_received} / ${r.pyramids_max}` },
    { key: 'dca_filled', label: 'DCA filled', num: true, value: (r) => r.legs_filled,
      render: (r) => html`<span data-test="dca">${r.legs_filled} / ${r.legs_total}</span>` },
    { key: 'avg_entry', label: 'Avg entry', num: true, value: (r) => r.avg_entry,
      render: (r) => f.price(r.avg_entry, r.symbol) },
    { key: 'price', label: 'Price', num: true, hidden: true, value: (r) => r.current_price,
      render: (r) => f.price(r.current_price, r.symbol) },
    { key: 'pnl_pct', label: 'Unrealized %', num: true, value: (r) => r.unrealized_pnl_percent,
      render: (r) => html`<span class=${f.tone(r.unrealized_pnl_percent)}>${f.signedPct(r.unrealized_pnl_percent)}</span>` },
    { key: 'pnl_usd', label: 'Unrealized USD', num: true, value: (r) => r.unrealized_pnl_usd,
      render: (r) => html`<span class=${f.tone(r.unrealized_pnl_usd)}>${f.usd(r.unrealized_pnl_usd)}</span>` },
    { key: 'realized', label: 'Realized USD', num: true, value: (r) => r.realized_pnl_usd,
      render: (r) => html`<span class=${f.tone(r.realized_pnl_usd)}>${f.usd(r.realized_pnl_usd)}</span>` },
    { key: 'tp_mode', label: 'TP mode', value: (r) => r.tp_mode },
    { key: 'status', label: 'Status', value: (r) => r.status,
      render: (r) => html`<${Badge} value=${r.status} label=${f.words(r.status)} />` },
    { key: 'close_reason', label: 'Close reason', value: (r) => r.close_reason || r.reason || '',
      render: (r) => f.words(r.close_reason || r.reason) },
    { key: 'opened', label: 'Opened', hidden: true, value: (r) => r.created_at, render: (r) => f.time(r.created_at) },
    { key: 'closed', label: 'Closed', hidden: true, value: (r) => r.closed_at, render: (r) => f.time(r.closed_at) },
  ];
  if (actions) {
    cols.push({ key: 'actions', label: 'Actions', fixed: true, sort: false, value: () => '',
      render: (r) => (OPEN.has(r.status) ? html`<${CloseGroupButton} row=${r} />` : '') });
  }
  return cols;
}

export function GroupsTable({ id, rows, toolbar, empty, actions = true, pageSize = 50, hide = [] }) {
  const columns = groupColumns({ actions }).map((c) => (hide.includes(c.key) ? { ...c, hidden: true } : c));
  return html`<${DataTable} id=${id} rows=${rows} columns=${columns} toolbar=${toolbar}
    expand=${(r) => (r.status === 'waiting' ? html`<${WaitingNote} row=${r} />` : html`<${Legs} row=${r} />`)}
    rowKey=${rowKey} pageSize=${pageSize}
    defaultVisible=${configVisible(id)} caption="Position groups" empty=${empty || 'No groups.'} />`;
}

function WaitingNote({ row }) {
  return html`<p>Waiting in the queue (${f.words(row.reason)}) since ${f.time(row.created_at)} at entry
    price ${f.price(row.entry_price, row.symbol)}. <a href="/queue">Open the queue</a> to promote or remove it.</p>`;
}

// A group's detail, fetched again whenever its row changes (a fill, a TP, a new pyramid).
export function useGroupDetail(id, version) {
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let alive = true;
    get(`/api/groups/${id}`, { action: `Load group ${id}` })
      .then((d) => { if (alive) { setDetail(d); setError(null); } }, (e) => alive && setError(e));
    return () => { alive = false; };
  }, [id, version]);
  return [detail, error];
}

function Legs({ row }) {
  const [detail, error] = useGroupDetail(row.id, `${row.updated_at}|${row.status}|${row.legs_filled}`);
  if (error) return html`<p class="neg">${error.message}</p>`;
  if (!detail) return html`<${Loading} what="legs" />`;
  return html`<${LegsByPyramid} detail=${detail} />
    <p><a href=${`/groups/${row.id}`}>Chart, orders and events of group ${row.id} →</a></p>`;
}

export function LegsByPyramid({ detail }) {
  const quote = f.quoteOf(detail.symbol);
  return detail.pyramids.map((p) => {
    const legs = detail.legs.filter((l) => l.pyramid === p.index);
    return html`<div key=${p.index} class="section" data-pyramid=${p.index}>
      <div class="pyramid-head"><h3>Pyramid P${p.index}</h3>
        <span class="muted">reference ${f.price(p.reference_price, detail.symbol)} · notional
          ${' '}${f.usd(p.notional)} ${quote} · ${f.words(p.state)} · ${f.time(p.received_at)}</span></div>
      <div class="table-wrap"><table class="data" aria-label=${`Legs of pyramid ${p.index}`}>
        <thead><tr><th scope="col">Leg</th><th class="num" scope="col">Fill price</th>
          <th class="num" scope="col">Weight</th><th scope="col">TP target</th>
          <th scope="col">Progress to TP</th><th class="num" scope="col">Filled size</th><th scope="col">State</th></tr></thead>
        <tbody>${legs.map((l) => html`<tr key=${l.leg_id} data-leg=${l.leg_id}>
          <td class="mono">${l.leg_id}</td>
          <td class="num">${l.fill_price ? f.price(l.fill_price, detail.symbol)
            : html`<span class="muted" title="planned price">${f.price(l.planned_price, detail.symbol)} planned</span>`}</td>
          <td class="num">${f.pct(l.weight_percent)}</td>
          <td>${l.tp_target === 'aggregate'
            ? html`global avg TP · ${f.price(l.tp_price, detail.symbol)}`
            : html`${f.signedPct(l.tp_percent)} · ${f.price(l.tp_price, detail.symbol)}`}</td>
          <td>${l.progress_to_tp === null ? html`<span class="muted">—</span>`
            : html`<${Progress} value=${l.progress_to_tp} text=${f.pct(l.progress_to_tp)} label=${`${l.leg_id} progress to TP`} />`}</td>
          <td class="num">${f.qty(l.filled_quantity)} · ${f.usd(l.filled_notional)} ${quote}</td>
          <td><${Badge} label=${l.label} tone=${LEG_STATE_TONE[l.label]} /></td>
        </tr>`)}</tbody>
      </table></div>
    </div>`;
  });
}
