// Panel A — Live Dashboard (SPEC 11.2) and the engine controls (11.4): status, pool, queue,
// PnL, last webhook, risk engine, system health, alerts, and the open groups; from the status
// topic the webhook warning, the price feed and the order line (status_cards.js).
import { html } from '../html.js';
import { post } from '../api.js';
import { useTopic } from '../live.js';
import { AdminButton, Badge, Card, Loading, Progress, ReadOnlyNote, Stat, useAction } from '../ui.js';
import { GroupsTable, OPEN } from '../groups_table.js';
import { OrderLine, PriceFeed, WebhookWarning } from '../status_cards.js';
import * as f from '../format.js';

const REASONS = {
  pool_full: 'pool full', precision_missing: 'missing precision', opposite_side: 'opposite side',
  group_closing: 'group closing', engine_paused: 'paused',
};

function EngineControls({ status }) {
  const [pause, pausing] = useAction('Pause engine', () => post('/api/engine/pause'), { done: 'Engine paused',
    confirmWith: { title: 'Pause the engine?', message: 'New signals are queued and no new orders are placed until you resume. Resting orders stay on the exchange.', confirmLabel: 'Pause' } });
  const [resume, resuming] = useAction('Resume engine', () => post('/api/engine/resume'), { done: 'Engine resumed' });
  const [reconnect, reconnecting] = useAction('Reconnect exchange', () => post('/api/engine/reconnect'),
    { done: 'Reconnecting to the exchange' });
  return html`<div class="actions">
    ${status === 'paused'
      ? html`<${AdminButton} cls="primary small" onClick=${() => resume()} busy=${resuming} label="Resume the engine">Resume</${AdminButton}>`
      : html`<${AdminButton} cls="small" onClick=${() => pause()} busy=${pausing} disabled=${status !== 'running'} label="Pause the engine">Pause</${AdminButton}>`}
    <${AdminButton} cls="small" onClick=${() => reconnect()} busy=${reconnecting} label="Reconnect the exchange">Reconnect exchange</${AdminButton}>
  </div>`;
}

function Alerts({ alerts }) {
  const [dismiss, busy] = useAction('Dismiss alert', (id) => post(`/api/alerts/${id}/dismiss`),
    { done: 'Alert dismissed (it stays in the log)' });
  if (!alerts.length) return html`<p class="muted">No alerts.</p>`;
  return html`<div class="strip">${alerts.slice(0, 8).map((a) => html`
    <div class=${`alert ${a.level}`} key=${a.id}>
      <${Badge} value=${a.level} />
      <span class="msg"><strong>${a.category}</strong> · ${a.message}
        <span class="muted"> · ${f.time(a.ts)}</span></span>
      <${AdminButton} cls="small" onClick=${() => dismiss(a.id)} busy=${busy} label=${`Dismiss alert ${a.id}`}>Dismiss</${AdminButton}>
    </div>`)}
    ${alerts.length > 8 && html`<div class="alert"><span class="msg">${alerts.length - 8} more in <a href="/logs">Logs & Alerts</a></span></div>`}
  </div>`;
}

function System({ s }) {
  const ex = s.exchange || {};
  const ps = s.precision_sync || {};
  const rl = s.rate_limit || {};
  const db = s.database || {};
  return html`<dl class="facts">
    <dt>Exchange</dt><dd><${Badge} value=${ex.connection || 'unknown'} />
      ${ex.error && html` <span class="neg">${ex.error}</span>`}
      ${ex.last_success_at && html` <span class="muted">last answer ${f.time(ex.last_success_at)}</span>`}</dd>
    <dt>Precision sync</dt><dd>${ps.last_sync_at ? f.time(ps.last_sync_at) : 'never'} ·
      ${f.count(ps.symbols)} symbols · ${ps.failures ? html`<span class="neg">${ps.failures} failures</span>` : 'no failures'}
      ${ps.last_error && html` <span class="neg">${ps.last_error}</span>`}</dd>
    <dt>Webhooks (last hour)</dt><dd>${f.count(s.webhooks_last_hour)}</dd>
    <dt>API rate limit</dt><dd><${Badge} value=${rl.state || 'unknown'} />
      ${rl.until && html` until ${f.time(rl.until)}`}</dd>
    <dt>Database</dt><dd><${Badge} value=${db.status || 'unknown'} />
      <span class="muted"> schema ${db.schema_version} · ${f.count(Math.round((db.size_bytes || 0) / 1024))} KB</span></dd>
  </dl>`;
}

export default function Dashboard() {
  const d = useTopic('dashboard');
  const groups = useTopic('groups');
  const status = useTopic('status');
  if (!d) return html`<${Loading} what="the dashboard" />`;
  const engine = d.engine || {};
  const pnl = d.pnl || {};
  const pool = d.pool || { used: 0, max: 0 };
  const queued = d.queued || { total: 0, by_reason: {} };
  const risk = d.risk || {};
  const hook = d.last_webhook;
  const reasons = Object.entries(queued.by_reason || {}).filter(([, n]) => n > 0);
  const open = (groups?.groups || []).filter((g) => OPEN.has(g.status) || g.status === 'waiting');
  return html`
    <${ReadOnlyNote} />
    <${WebhookWarning} warning=${status?.webhook_warning} />
    <div class="grid" data-test="dashboard">
      <${Stat} test="engine" label="Engine status" value=${html`<${Badge} value=${engine.status} />`}
        sub=${html`${engine.error ? html`<span class="neg">${engine.error}</span>` : ''}<${EngineControls} status=${engine.status} />`} />
      <${Stat} test="active-groups" label="Active groups" value=${f.count(d.total_active_groups)}
        sub="live, partially filled, active or closing" />
      <${Stat} test="pool" label="Execution pool" value=${`${pool.used} / ${pool.max}`}
        sub=${html`<${Progress} value=${pool.max ? (pool.used / pool.max) * 100 : 0} label="Pool usage" />`} />
      <${Stat} test="queued" label="Queued signals" value=${f.count(queued.total)}
        sub=${reasons.length ? reasons.map(([r, n]) => `${n} ${REASONS[r] || f.words(r)}`).join(' · ') : 'none waiting'} />
      <${Stat} test="pnl" label="Total PnL" value=${html`<span class=${f.tone(pnl.total_usd)}>${f.usdUnit(pnl.total_usd)}</span>`}
        sub=${html`${pnl.total_percent != null ? html`<span class=${f.tone(pnl.total_percent)}>${f.signedPct(pnl.total_percent)}</span> of ${f.usd(pnl.capital_base_usd)} · ` : ''}
          realized ${f.usd(pnl.realized_usd)} · unrealized ${f.usd(pnl.unrealized_usd)}
          ${pnl.unpriced_group_ids?.length ? ` (${pnl.unpriced_group_ids.length} groups without a price)` : ''}`} />
      <${Stat} test="last-webhook" cls="compact" label="Last webhook" value=${hook ? f.time(hook.received_at, { seconds: false }) : 'none yet'}
        sub=${hook ? `${hook.key || '—'} · ${hook.intent || ''} · ${f.words(hook.state)}` : 'no webhook accepted'} />
      <${Stat} test="risk" label="Risk engine" value=${html`<${Badge} value=${risk.status || 'unknown'} />`}
        sub=${risk.last_action_at ? `last action ${f.time(risk.last_action_at)}` : 'no action yet'} />
      <${Card} title="System status" cls="half"><${System} s=${d.system || {}} /></${Card}>
      <${PriceFeed} feed=${status?.price_feed} />
      <${OrderLine} line=${status?.order_line ?? d.order_line} />
      <${Card} title=${`Alerts (${(d.alerts || []).length})`} cls="wide"><${Alerts} alerts=${d.alerts || []} /></${Card}>
    </div>
    <h2>Open and waiting groups</h2>
    ${groups ? html`<${GroupsTable} id="dashboard" rows=${open} pageSize=${25} hide=${["realized", "close_reason"]}
      empty="No open or waiting groups. A webhook opens one." />` : html`<${Loading} what="groups" />`}`;
}
