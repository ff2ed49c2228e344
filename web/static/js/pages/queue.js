// Panel D — Waiting Queue (SPEC 6.5, 11.5 D): entries in rank order (1 = next); admins promote,
// remove or force-add an entry.
import { html } from '../html.js';
import { post, del } from '../api.js';
import { useTopic } from '../live.js';
import { DataTable } from '../table.js';
import { AdminButton, Loading, Progress, ReadOnlyNote, useAction } from '../ui.js';
import * as f from '../format.js';

export const REASON_TEXT = {
  pool_full: 'pool full', precision_missing: 'missing precision', opposite_side: 'opposite side open',
  group_closing: 'group closing', engine_paused: 'engine paused',
};

function Actions({ e }) {
  const name = `${f.pair(e)} ${e.side}`;
  const [promote, promoting] = useAction('Promote', () => post(`/api/queue/${e.id}/promote`),
    { done: `${name}: promoted to the pool` });
  const [remove, removing] = useAction('Remove', () => del(`/api/queue/${e.id}`), {
    done: `${name}: removed from the queue`,
    confirmWith: { title: `Remove ${name} from the queue?`, message: 'The waiting signal is dropped (logged with your name). It does not come back unless TradingView sends it again.', confirmLabel: 'Remove', danger: true },
  });
  const [force, forcing] = useAction('Force add', () => post(`/api/queue/${e.id}/force-add`), {
    done: `${name}: opened over the pool limit`,
    confirmWith: { title: `Force ${name} into the pool?`, message: 'The group opens although the pool is full; the pool stays over its limit until slots free.', confirmLabel: 'Force add' },
  });
  return html`<span class="actions">
    <${AdminButton} cls="small" onClick=${() => promote()} busy=${promoting} label=${`Promote ${name}`}>Promote</${AdminButton}>
    <${AdminButton} cls="small" onClick=${() => force()} busy=${forcing} disabled=${e.reason !== 'pool_full'}
      label=${`Force add ${name} to the pool (only while the pool is full)`}>Force add</${AdminButton}>
    <${AdminButton} cls="small danger" onClick=${() => remove()} busy=${removing} label=${`Remove ${name}`}>Remove</${AdminButton}>
  </span>`;
}

const COLUMNS = [
  { key: 'rank', label: 'Rank', num: true, fixed: true, value: (e) => e.rank },
  { key: 'pair', label: 'Pair / TF', fixed: true, value: (e) => `${f.pair(e)} ${e.side}`,
    render: (e) => html`${f.pair(e)} <span class="muted">${e.side}</span>${e.continuation ? html` <span class="muted">(pyramid)</span>` : ''}` },
  { key: 'reason', label: 'Reason', value: (e) => REASON_TEXT[e.reason] || f.words(e.reason) },
  { key: 'replacements', label: 'Replacements', num: true, value: (e) => e.replacement_count },
  { key: 'loss', label: 'Loss %', num: true, value: (e) => e.current_loss_percent,
    render: (e) => html`<span class=${f.tone(e.current_loss_percent)}>${f.pct(e.current_loss_percent)}</span>` },
  { key: 'profit', label: 'Expected profit', num: true, value: (e) => e.expected_profit_usd, render: (e) => f.usdUnit(e.expected_profit_usd) },
  { key: 'waiting', label: 'Time in queue', num: true, value: (e) => e.queued_at,
    render: (e) => `${f.count(Math.floor((Date.now() - e.queued_at) / 60000))} min` },
  { key: 'entry', label: 'Entry price', num: true, value: (e) => e.entry_price, render: (e) => f.price(e.entry_price, e.symbol) },
  { key: 'current', label: 'Current price', num: true, hidden: true, value: (e) => e.current_price, render: (e) => f.price(e.current_price, e.symbol) },
  { key: 'queued', label: 'Queued at', hidden: true, value: (e) => e.queued_at, render: (e) => f.time(e.queued_at) },
  { key: 'actions', label: 'Actions', fixed: true, sort: false, value: () => '', render: (e) => html`<${Actions} e=${e} />` },
];

export default function Queue() {
  const q = useTopic('queue');
  if (!q) return html`<${Loading} what="the queue" />`;
  const pool = q.pool || { used: 0, max: 0 };
  return html`<${ReadOnlyNote} />
    <div class="grid">
      <section class="card" data-test="pool"><div class="stat-label">Execution pool</div>
        <div class="stat-value">${pool.used} / ${pool.max}</div>
        <${Progress} value=${pool.max ? (pool.used / pool.max) * 100 : 0} label="Pool usage" /></section>
      <section class="card"><div class="stat-label">Waiting</div><div class="stat-value">${q.entries.length}</div>
        <div class="stat-sub">ranked by the configured priority rules; rank 1 is promoted next</div></section>
    </div>
    <${DataTable} id="queue" rows=${q.entries} columns=${COLUMNS} caption="Waiting queue"
      empty="The queue is empty: every signal found a place in the pool." />`;
}
