// Panel C — Risk Engine (SPEC 7.7, 11.5 C): status, the groups at or below the loss threshold
// with every §7.7 field and their projected plan, the flags of all open groups, the last
// actions, and the controls Run Now (optionally forced), Skip Once, Block / Unblock.
import { html } from '../html.js';
import { post } from '../api.js';
import { useTopic } from '../live.js';
import { DataTable } from '../table.js';
import { AdminButton, Badge, Card, Loading, ReadOnlyNote, Stat, useAction } from '../ui.js';
import { OPEN } from '../groups_table.js';
import * as f from '../format.js';

const yes = (v) => (v ? 'yes' : 'no');

function Plan({ plan, symbolOf }) {
  if (!plan) return '—';
  if (!plan.sufficient) {
    return html`<span class="neg">insufficient</span> <span class="muted">needs ${f.usd(plan.required_usd)},
      ${f.usd(plan.available_usd)} available</span>`;
  }
  return html`<ul class="plain">${plan.winners.map((w) => html`<li key=${w.group_id}>
    group ${w.group_id} ${w.symbol}: ${f.qty(w.qty)} @ ${f.price(w.price, w.symbol || symbolOf(w.group_id))}
    = ${f.usd(w.notional)} · est. <span class=${f.tone(w.estimated_usd)}>${f.usd(w.estimated_usd)}</span>
    ${w.full ? ' (full close)' : ' (partial)'}${w.raised ? ' · raised to minimum' : ''}</li>`)}
    <li class="muted">covers ${f.usd(plan.covered_usd)} of ${f.usd(plan.required_usd)} USD</li></ul>`;
}

function Flags({ id, blocked, skipOnce }) {
  const control = (op, label) => useAction(label, () => post(`/api/risk/groups/${id}/${op}`),
    { done: `${label}: group ${id}` });
  const [skip, skipping] = control('skip-once', 'Skip once');
  const [block, blocking] = control('block', 'Block group');
  const [unblock, unblocking] = control('unblock', 'Unblock group');
  return html`<span class="actions">
    <${AdminButton} cls="small" onClick=${() => skip()} busy=${skipping} disabled=${skipOnce} label=${`Skip group ${id} in the next cycle`}>Skip once</${AdminButton}>
    ${blocked
      ? html`<${AdminButton} cls="small" onClick=${() => unblock()} busy=${unblocking} label=${`Unblock group ${id}`}>Unblock</${AdminButton}>`
      : html`<${AdminButton} cls="small" onClick=${() => block()} busy=${blocking} label=${`Block group ${id}`}>Block</${AdminButton}>`}
  </span>`;
}

const flagText = (r) => [r.blocked && 'blocked', r.skip_once && 'skip once'].filter(Boolean).join(', ') || '—';

function loserColumns(symbolOf) {
  return [
    { key: 'group', label: 'Group', fixed: true, value: (r) => r.group_id,
      render: (r) => html`<a href=${`/groups/${r.group_id}`}>${r.symbol} · ${r.group_id}</a> <span class="muted">${r.side}</span>` },
    { key: 'loss_pct', label: 'Loss %', num: true, value: (r) => r.loss_percent, render: (r) => html`<span class="neg">${f.pct(r.loss_percent)}</span>` },
    { key: 'loss_usd', label: 'Loss USD', num: true, value: (r) => r.loss_usd, render: (r) => html`<span class="neg">${f.usd(r.loss_usd)}</span>` },
    { key: 'timer', label: 'Timer remaining', value: (r) => r.timer_remaining_ms,
      render: (r) => (r.timer_running ? f.duration(r.timer_remaining_ms) : 'not started') },
    { key: 'pyramids', label: '5 pyramids reached', value: (r) => r.pyramids_reached, render: (r) => `${yes(r.pyramids_reached)} (${r.pyramids})` },
    { key: 'age', label: 'Age filter passed', value: (r) => r.age_filter_passed, render: (r) => yes(r.age_filter_passed) },
    { key: 'offsets', label: 'Winning offsets', num: true, value: (r) => r.available_offsets?.usd,
      render: (r) => `${r.available_offsets?.count ?? 0} · ${f.usd(r.available_offsets?.usd)} USD` },
    { key: 'eligible', label: 'Eligible', value: (r) => r.eligible,
      render: (r) => (r.eligible ? html`<${Badge} value="active" label="eligible" />`
        : html`<span class="muted" title=${r.failures.join(', ')}>no: ${r.failures.map(f.words).join(', ') || '—'}</span>`) },
    { key: 'flags', label: 'Flags', value: flagText },
    { key: 'plan', label: 'Projected plan', wrap: true, sort: false, value: (r) => r.projected_plan?.outcome,
      render: (r) => html`<${Plan} plan=${r.projected_plan} symbolOf=${symbolOf} />` },
    { key: 'actions', label: 'Actions', fixed: true, sort: false, value: () => '',
      render: (r) => html`<${Flags} id=${r.group_id} blocked=${r.blocked} skipOnce=${r.skip_once} />` },
  ];
}

const ACTION_COLUMNS = [
  { key: 'ts', label: 'Time', value: (a) => a.ts, render: (a) => f.time(a.ts) },
  { key: 'trigger', label: 'Trigger', value: (a) => f.words(a.trigger) },
  { key: 'loser', label: 'Loser', value: (a) => a.loser?.group_id,
    render: (a) => html`<a href=${`/groups/${a.loser?.group_id}`}>group ${a.loser?.group_id}</a>
      <span class="neg"> ${f.pct(a.loser?.loss_percent)} · ${f.usd(a.loser?.loss_usd)}</span>` },
  { key: 'required', label: 'Required USD', num: true, value: (a) => a.required_usd, render: (a) => f.usd(a.required_usd) },
  { key: 'winners', label: 'Winners', wrap: true, value: (a) => (a.winners || []).map((w) => w.group_id).join(' '),
    render: (a) => ((a.winners || []).length ? (a.winners || []).map((w) => `group ${w.group_id}: ${w.qty} (${f.usd(w.estimated_usd)} est.)`).join('; ') : '—') },
  { key: 'outcome', label: 'Outcome', value: (a) => a.outcome, render: (a) => html`<${Badge} value=${a.outcome === 'executed' ? 'ok' : a.outcome === 'failed' ? 'failed' : 'idle'} label=${a.outcome} />${a.reason ? html` <span class="muted">${a.reason}</span>` : ''}` },
  { key: 'realized', label: 'Realized net', num: true, value: (a) => a.realized_net, render: (a) => html`<span class=${f.tone(a.realized_net)}>${f.usd(a.realized_net)}</span>` },
];

function RunNow() {
  const [run, busy] = useAction('Run Now', (force) => post('/api/risk/run', { force: Boolean(force) }), {
    confirmWith: { title: 'Run a risk cycle now?', message: 'The Risk Engine evaluates the groups at once and may close a loser against winners. Force skips the timer condition for this cycle only; every other condition still applies.', confirmLabel: 'Run now', option: 'Force (skip the timer condition)' },
    done: (answer) => `Risk cycle ran: ${f.words(answer?.cycle?.outcome || answer?.cycle?.status || 'done')}${answer?.cycle?.reason ? ` — ${answer.cycle.reason}` : ''}`,
  });
  return html`<${AdminButton} cls="primary" onClick=${() => run()} busy=${busy} label="Run a risk cycle now">Run now</${AdminButton}>`;
}

export default function Risk() {
  const r = useTopic('risk');
  const groups = useTopic('groups');
  if (!r) return html`<${Loading} what="the risk panel" />`;
  const openGroups = (groups?.groups || []).filter((g) => OPEN.has(g.status));
  const symbolOf = (id) => openGroups.find((g) => g.id === id)?.symbol;
  const blocked = new Set(r.blocked || []);
  const skip = new Set(r.skip_once || []);
  const s = r.settings || {};
  const last = r.last_cycle;
  const flagColumns = [
    { key: 'group', label: 'Group', fixed: true, value: (g) => g.id, render: (g) => html`<a href=${`/groups/${g.id}`}>${f.pair(g)} · ${g.id}</a>` },
    { key: 'pnl', label: 'Unrealized %', num: true, value: (g) => g.unrealized_pnl_percent,
      render: (g) => html`<span class=${f.tone(g.unrealized_pnl_percent)}>${f.signedPct(g.unrealized_pnl_percent)}</span>` },
    { key: 'flags', label: 'Flags', value: (g) => flagText({ blocked: blocked.has(g.id), skip_once: skip.has(g.id) }) },
    { key: 'actions', label: 'Actions', fixed: true, sort: false, value: () => '',
      render: (g) => html`<${Flags} id=${g.id} blocked=${blocked.has(g.id)} skipOnce=${skip.has(g.id)} />` },
  ];
  return html`<${ReadOnlyNote} />
    <div class="grid">
      <${Stat} test="risk-status" label="Risk engine" value=${html`<${Badge} value=${r.status || 'unknown'} />`}
        sub=${r.last_action_at ? `last action ${f.time(r.last_action_at)}` : 'no action yet'} />
      <${Stat} test="last-cycle" label="Last cycle" cls="compact" value=${last ? f.time(last.at) : 'none yet'}
        sub=${last ? `${f.words(last.trigger)}${last.forced ? ' (forced)' : ''} · ${f.words(last.outcome)}${last.reason ? ` — ${last.reason}` : ''}` : ''} />
      <${Stat} label="Rules" cls="compact" value=${`loss ≤ ${f.pct(s.loss_threshold_percent)}`}
        sub=${`timer: ${f.words(s.timer_start_condition)} + ${s.post_full_wait_minutes} min · every ${s.evaluate_interval_sec} s${s.require_full_pyramids ? ' · full pyramids required' : ''}${s.use_trade_age_filter ? ' · age filter on' : ''}`} />
      <${Stat} label="Controls" value=${html`<${RunNow} />`} sub=${`${blocked.size} blocked · ${skip.size} skip once${r.unpriced?.length ? ` · ${r.unpriced.length} without a price` : ''}`} />
    </div>
    <h2>Groups at or below the loss threshold</h2>
    <${DataTable} id="risk-losers" rows=${r.groups || []} columns=${loserColumns(symbolOf)} rowKey=${(x) => x.group_id}
      empty="No group is at or below the loss threshold." caption="Loss candidates" />
    <h2>Recent actions</h2>
    <${DataTable} id="risk-actions" rows=${r.actions || []} columns=${ACTION_COLUMNS} pageSize=${20}
      empty="The Risk Engine has not acted yet." caption="Risk actions" />
    <${Card} title="Flags of every open group" cls="section">
      <${DataTable} id="risk-flags" rows=${openGroups} columns=${flagColumns} pageSize=${20}
        empty="No open groups." caption="Risk flags" />
    </${Card}>`;
}
