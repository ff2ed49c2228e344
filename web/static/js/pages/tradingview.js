// TradingView setup: the webhook URL (app.public_url, else this address), the alert message
// template with every placeholder and a copy button, where the real secret goes (the template
// only ever carries its masked form), and "Check a message": paste an alert message and the
// engine says what it would do with it, without trading (POST /api/signals/check).
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, request } from '../api.js';
import { notifyError } from '../notices.js';
import { Card, Loading } from '../ui.js';
import { CopyButton } from '../copy.js';

function Url({ setup }) {
  return html`<${Card} title="1. Webhook URL" actions=${html`<${CopyButton} text=${setup.webhook_url} what="webhook URL" />`}>
    <p class="mono" data-test="webhook-url">${setup.webhook_url}</p>
    ${setup.public_url_set
      ? html`<p class="muted">From <code>app.public_url</code>.</p>`
      : html`<p class="muted">Derived from the address of this page. If TradingView reaches the engine at another
        address (it only calls ports 80 and 443, through your TLS proxy), set <code>app.public_url</code> on the
        <a href="/settings">Settings</a> page (Security).</p>`}
  </${Card}>`;
}

function Secret({ secret }) {
  const where = html`Replace <code>${secret.masked || 'SET-A-WEBHOOK-SECRET-FIRST'}</code> in the template with your
    webhook secret itself. The engine never shows it again after it was set: use the copy you kept, or make a new one with
    <em>Generate</em> on the <a href="/settings">Settings</a> page (Security) — shown once — and update your alerts.`;
  return html`<${Card} title="2. Webhook secret">
    ${!secret.required
      ? html`<p class="neg">Secret checks are off (<code>security.webhook_signature_validation = false</code>): anyone who knows the URL can send signals.</p>`
      : secret.set
        ? html`<p data-test="secret-state">Set (<code>${secret.masked}</code>, from the ${secret.source === 'env' ? 'environment variable ENGINE_WEBHOOK_SECRET' : 'secret store'}).</p><p>${where}</p>`
        : html`<p class="neg" data-test="secret-state">No webhook secret is set: every webhook is refused (401). Set one on the
            <a href="/settings">Settings</a> page (Security, <em>Generate</em>) or with
            <code>engine secrets set security.webhook_secret</code>.</p>`}
    ${secret.hmac_required && html`<p>An <code>X-Signature</code> HMAC header is also required, which TradingView cannot send.</p>`}
  </${Card}>`;
}

function Template({ setup }) {
  return html`<${Card} title="3. Alert message" actions=${html`<${CopyButton} text=${setup.template} what="template" />`}>
    <p>Paste into the alert's <em>Message</em> box (alert on the strategy, "Order fills only", Webhook URL ticked).
      The numeric placeholders are unquoted on purpose. Every field is explained in
      <a href="/docs/tradingview.md" target="_blank" rel="noopener">the TradingView documentation</a>.</p>
    <pre class="mono" data-test="template">${setup.template}</pre>
    <details><summary>Placeholders</summary>
      <table><thead><tr><th>Field</th><th>Filled by</th></tr></thead><tbody>
        ${Object.entries(setup.placeholders).map(([path, ph]) => html`<tr key=${path}><td class="mono">${path}</td>
          <td class="mono">${ph || html`<span class="muted">typed by you</span>`}</td></tr>`)}
      </tbody></table>
    </details>
  </${Card}>`;
}

// The dry run's answer: {accepted, http_status, errors, signal, key, decision: {kind, text,
// minimum_order_size, problems}, ladder: {legs: [...]}, secret, intake_warning}.
function Answer({ answer }) {
  if (!answer) return null;
  if (!answer.accepted) {
    const errors = answer.errors || [];
    return html`<div class="check-answer" role="status" data-test="check-refused">
      <p class="neg"><strong>The webhook would answer ${answer.http_status}: refused.</strong>
        ${answer.message ? ` ${answer.message}` : ''}</p>
      ${errors.length > 0 && html`<ul>${errors.map((e) => html`<li><code>${e.field}</code>: ${e.message}</li>`)}</ul>`}
      ${answer.intake_warning?.message && html`<p class="neg">${answer.intake_warning.message}</p>`}
    </div>`;
  }
  const d = answer.decision || {};
  const sig = answer.signal || {};
  const legs = answer.ladder?.legs || [];
  return html`<div class="check-answer" role="status" data-test="check-answer">
    <p><strong data-test="check-decision">${d.text || 'accepted'}</strong></p>
    <dl class="facts">
      <dt>Signal</dt><dd>${[sig.intent, sig.side, sig.symbol].filter(Boolean).join(' ')} · key <code>${answer.key}</code></dd>
      ${answer.secret && html`<dt>Secret</dt><dd>${answer.secret}</dd>`}
      ${d.minimum_order_size && html`<dt>Smallest order_size that passes</dt><dd class="num">${d.minimum_order_size}</dd>`}
      ${answer.intake_warning?.message && html`<dt>Warning</dt><dd class="neg">${answer.intake_warning.message}</dd>`}
    </dl>
    ${(d.problems || []).length > 0 && html`<ul class="neg">${d.problems.map((p) => html`<li>${typeof p === 'string' ? p : p.text || JSON.stringify(p)}</li>`)}</ul>`}
    ${legs.length > 0 && html`<table data-test="check-ladder"><thead><tr><th>Leg</th><th>Type</th><th>Price</th><th>Quantity</th>
      <th>Notional</th><th>TP if filled</th><th>Problem</th></tr></thead>
      <tbody>${legs.map((l) => html`<tr key=${l.leg}><td>${l.leg}</td><td>${l.order_type}</td><td class="num">${l.price}</td>
        <td class="num">${l.quantity}</td><td class="num">${l.notional}</td><td class="num">${l.tp_price_if_filled ?? ''}</td>
        <td class=${l.problem ? 'neg' : ''}>${l.problem || ''}</td></tr>`)}</tbody></table>`}
    <details><summary>Full answer</summary><pre class="mono">${JSON.stringify(answer, null, 2)}</pre></details>
  </div>`;
}

function Check() {
  const [text, setText] = useState('');
  const [answer, setAnswer] = useState(null);
  const [busy, setBusy] = useState(false);
  const [missing, setMissing] = useState(false);
  const check = async () => {
    setBusy(true);
    try {
      setAnswer(await request('POST', '/api/signals/check', { raw: text, action: 'Check a message' }));
    } catch (e) {
      // an engine without the endpoint: no route (404), or only the console's GET (405)
      if ((e.status === 404 || e.status === 405) && !e.details?.errors) setMissing(true);
      else if (e.status === 400 || e.status === 413) {
        setAnswer({ accepted: false, http_status: e.status, message: e.message, errors: e.details?.errors || [] });
      }
      else notifyError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Card} title="4. Check a message">
    <p>Paste an alert message as TradingView would send it (placeholders filled in). The engine answers what it
      would do — the signal it reads, the group and pyramid, the ladder — or why it would refuse it.
      Nothing is traded or stored.</p>
    <label class="field">Alert message
      <textarea rows="12" class="mono" value=${text} onInput=${(e) => setText(e.currentTarget.value)}
        data-test="check-input"></textarea></label>
    <button onClick=${check} disabled=${busy || !text.trim() || missing} aria-busy=${busy ? 'true' : undefined}>Check</button>
    ${missing && html`<p class="muted" data-test="check-missing">This engine version cannot check messages yet.</p>`}
    <${Answer} answer=${answer} />
  </${Card}>`;
}

export default function TradingView() {
  const [setup, setSetup] = useState(null);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    get('/api/tradingview', { action: 'Load the TradingView setup' })
      .then((s) => { if (alive.current) setSetup(s); }, notifyError);
    return () => { alive.current = false; };
  }, []);
  if (!setup) return html`<${Loading} what="the TradingView setup" />`;
  return html`<div class="tradingview">
    <${Url} setup=${setup} />
    <${Secret} secret=${setup.secret} />
    <${Template} setup=${setup} />
    <${Check} />
  </div>`;
}
