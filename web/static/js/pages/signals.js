// Signals — the webhook inbox: every accepted webhook with its time, source, key, intent and
// what became of it in plain words; the stored body (secret masked) on expanding a row; Webhook
// Replay for admins when logging.webhook_replay_enabled.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, query } from '../api.js';
import { subscribe, useTopic } from '../live.js';
import { DataTable } from '../table.js';
import { AdminButton, Badge, Loading, ReadOnlyNote, useAction } from '../ui.js';
import { notifyError } from '../notices.js';
import * as f from '../format.js';

const STATE_TEXT = {
  accepted: 'received, waiting to be processed', processing: 'being processed', processed: 'done',
  rejected: 'refused', duplicate: 'ignored: a duplicate of an earlier signal', queued: 'waiting in the queue',
};
const STATES = Object.keys(STATE_TEXT);

function parsed(raw) {
  try { return JSON.parse(raw); } catch { return null; }
}

function Replay({ entry, enabled }) {
  const [replay, busy] = useAction('Replay webhook', () => post(`/api/webhooks/${entry.id}/replay`), {
    done: (a) => `Webhook ${entry.id} replayed${a?.id ? ` as signal ${a.id}` : ''}`,
    confirmWith: { title: `Replay webhook ${entry.id}?`, message: 'It is processed again as if it had just arrived (every duplicate rule applies) and logged as a replay.', confirmLabel: 'Replay' },
  });
  return html`<${AdminButton} cls="small" onClick=${() => replay()} busy=${busy} disabled=${!enabled}
    label=${enabled ? `Replay webhook ${entry.id}` : 'Replay is off: set logging.webhook_replay_enabled in Settings'}>Replay</${AdminButton}>`;
}

function Body({ entry }) {
  const body = parsed(entry.raw_body);
  return html`<dl class="facts">
    <dt>Idempotency key</dt><dd class="mono">${entry.idempotency_key}</dd>
    <dt>Processed</dt><dd>${f.time(entry.processed_at)}</dd>
    <dt>Signal time</dt><dd>${f.time(entry.signal_time)}</dd>
    <dt>Body (secret masked)</dt><dd><pre class="mono">${body ? JSON.stringify(body, null, 2) : entry.raw_body}</pre></dd>
  </dl>`;
}

export default function Signals() {
  const [state, setState] = useState('');
  const [entries, setEntries] = useState(null);
  const [cursor, setCursor] = useState(null);
  const config = useTopic('config');
  const replayOn = Boolean(config?.running?.logging?.webhook_replay_enabled);

  useEffect(() => {
    let alive = true;
    let last = 0;
    const load = async () => {
      last = Date.now();
      try {
        const page = await get(`/api/inbox${query({ state, limit: 200 })}`, { action: 'Load signals' });
        if (alive) { setEntries(page.entries); setCursor(page.next_cursor); }
      } catch (e) { if (alive) notifyError(e); }
    };
    load();
    // a signal's outcome is logged: refresh on new log events, at most once a second
    const off = subscribe('logs', () => { if (Date.now() - last > 1000) load(); });
    return () => { alive = false; off(); };
  }, [state]);

  const more = async () => {
    try {
      const page = await get(`/api/inbox${query({ state, limit: 200, cursor })}`, { action: 'Load older signals' });
      setEntries([...(entries || []), ...page.entries]);
      setCursor(page.next_cursor);
    } catch (e) { notifyError(e); }
  };

  const columns = [
    { key: 'time', label: 'Received', value: (e) => e.received_at, render: (e) => f.time(e.received_at) },
    { key: 'source', label: 'Source', value: (e) => `${parsed(e.raw_body)?.source || ''} ${e.source_ip}`,
      render: (e) => html`${parsed(e.raw_body)?.source || 'webhook'} <span class="muted">${e.source_ip}</span>` },
    { key: 'key', label: 'Key', value: (e) => (e.symbol ? `${e.symbol} ${f.tf(e.timeframe)} ${e.side || ''}` : '—') },
    { key: 'intent', label: 'Intent', value: (e) => f.words(e.intent) },
    { key: 'state', label: 'State', value: (e) => e.state, render: (e) => html`<${Badge} value=${e.state} label=${STATE_TEXT[e.state] || e.state} />` },
    { key: 'outcome', label: 'Outcome', wrap: true, value: (e) => e.outcome || '', render: (e) => e.outcome || html`<span class="muted">not decided yet</span>` },
    { key: 'actions', label: 'Actions', fixed: true, sort: false, value: () => '', render: (e) => html`<${Replay} entry=${e} enabled=${replayOn} />` },
  ];
  const toolbar = html`<label class="field">State
    <select value=${state} onChange=${(e) => setState(e.currentTarget.value)}>
      <option value="">All</option>${STATES.map((s) => html`<option value=${s}>${f.words(s)}</option>`)}
    </select></label>`;
  if (!entries) return html`<${Loading} what="signals" />`;
  return html`<${ReadOnlyNote} />
    <${DataTable} id="signals" rows=${entries} columns=${columns} toolbar=${toolbar} expand=${(e) => html`<${Body} entry=${e} />`}
      empty="No webhook received yet." caption="Received signals" />
    ${cursor && html`<button onClick=${more}>Load older signals</button>`}`;
}
