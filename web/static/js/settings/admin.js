// Administration on the Settings page: write-only secrets (masked display, a generated webhook
// secret shown once), the exchange connection test, users, and Local Storage (export, import
// with preview, reset with confirmation, versions, backup download). Admin only: operators
// see none of the secrets or users (SPEC 11.5 F, 12.2).
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, request, currentUser } from '../api.js';
import { confirm } from '../confirm.js';
import { notify, notifyError } from '../notices.js';
import { AdminButton, useAction } from '../ui.js';
import * as f from '../format.js';

const show = (v) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));

export function SecretField({ field, info, onChange }) {
  const [value, setValue] = useState('');
  const [shown, setShown] = useState(null); // a generated secret, until dismissed
  const [save, saving] = useAction(`Set ${field.label}`, () => request('PUT', `/api/secrets/${field.path}`,
    { body: { value }, action: `Set ${field.label}` }), { done: (r) => `${field.label} stored (${r.masked})${r.note ? ` — ${r.note}` : ''}` });
  const [generate, generating] = useAction('Generate webhook secret', () => post('/api/secrets/webhook_secret/generate'),
    { done: 'New webhook secret stored: copy it now, it is not shown again',
      confirmWith: { title: 'Generate a new webhook secret?', message: 'Alerts sending the old secret are refused from now on. The new one is shown once.', confirmLabel: 'Generate' } });
  const submit = async (e) => {
    e.preventDefault();
    if (await save()) { setValue(''); onChange(); }
  };
  return html`<div class="setting secret" data-key=${field.path}>
    <form class="secret-row" onSubmit=${submit} autocomplete="off">
      <label class="field" for=${`s-${field.path}`}>${field.label}
        <span class="muted">${info?.set ? html`set: <span class="mono" data-test="masked">${info.masked}</span> (${info.source})` : 'not set'}</span></label>
      <input id=${`s-${field.path}`} type="password" autocomplete="new-password" value=${value}
        placeholder=${field.min_length ? `at least ${field.min_length} characters` : 'new value'}
        onInput=${(e) => setValue(e.currentTarget.value)} aria-label=${`New ${field.label}`} />
      <button type="submit" disabled=${saving || !value}>Set</button>
      ${field.path === 'security.webhook_secret' && html`<button type="button" disabled=${generating}
        onClick=${async () => { const r = await generate(); if (r) { setShown(r.secret); onChange(); } }}>Generate</button>`}
    </form>
    <div class="help">${field.help} <span class="muted">Write-only: the value is never shown again.</span></div>
    ${shown && html`<div class="once" role="alert" data-test="generated-secret">
      <p>Copy this secret into the alert's <span class="mono">secret</span> field now — it is shown only this once:</p>
      <code class="mono">${shown}</code>
      <div class="actions"><button class="small" onClick=${() => navigator.clipboard?.writeText(shown)}>Copy</button>
        <button class="small" onClick=${() => setShown(null)}>Done, hide it</button></div></div>`}
  </div>`;
}

export function ExchangeTest() {
  const [result, setResult] = useState(null);
  const [run, busy] = useAction('Test connection', () => post('/api/exchange/test'),
    { done: (r) => (r.ok ? 'Exchange connection works' : `Exchange test: ${r.outcome}`) });
  return html`<div class="setting">
    <${AdminButton} onClick=${async () => setResult(await run())} busy=${busy}
      label="Test the exchange connection with the stored credentials">Test connection</${AdminButton}>
    ${result && html`<p class=${result.ok ? 'pos' : 'neg'} data-test="exchange-test" role="status">
      ${result.exchange}${result.testnet ? ' (testnet)' : ''}: ${result.outcome} — ${result.message}
      ${result.hint && html`<br /><span class="muted">${result.hint}</span>`}</p>`}
    <div class="help">Calls fetch_balance through the exchange port with the saved configuration and the stored credentials.</div>
  </div>`;
}

function diffList(preview) {
  const rows = preview.diff || [];
  return html`<span>${rows.length ? html`${rows.length} key(s) change:
    <span class="diff-list">${rows.slice(0, 12).map((d) => html`<span class="mono" key=${d.key}>${d.key}: ${show(d.old)} → ${show(d.new)}</span>`)}
    ${rows.length > 12 && html`<span>… and ${rows.length - 12} more</span>`}</span>` : 'nothing changes.'}
    ${preview.restart_required?.length ? html` Needs a restart: ${preview.restart_required.join(', ')}.` : ''}
    The file is written, not applied: press Apply afterwards.</span>`;
}

// preview → confirmation listing the changes → the same call confirmed
async function replaceFlow(title, call, onDone) {
  try {
    const preview = await call(false);
    const ok = await confirm({ title, message: diffList(preview), confirmLabel: 'Replace the file', danger: true });
    if (!ok) return;
    await call(true);
    notify('ok', `${title}: done`);
    onDone();
  } catch (e) {
    e.action = e.action || title;
    notifyError(e);
    if (e.details?.problems) onDone(e.details.problems);
  }
}

export function LocalStorage({ reload }) {
  const [problems, setProblems] = useState(null);
  const done = (found) => { setProblems(found || null); reload(); };
  const onFile = async (e) => {
    const file = e.currentTarget.files?.[0];
    e.currentTarget.value = '';
    if (!file) return;
    if (file.size > 1024 * 1024) { setProblems([{ path: '', message: `${file.name} is larger than 1 MiB` }]); return; }
    const content = await file.text();
    await replaceFlow(`Import ${file.name}`, (ok) => request('POST', `/api/config/import${ok ? '?confirm=true' : ''}`,
      { raw: content, contentType: 'application/toml', action: `Import ${file.name}` }), done);
  };
  const reset = () => replaceFlow('Reset to default', (ok) => post('/api/config/reset', { confirm: ok },
    { action: 'Reset to default' }), done);
  return html`<div class="setting wide" data-test="local-storage">
    <div class="actions">
      <a class="button" href="/api/config/export" download>Export engine.toml</a>
      <label class="button" aria-disabled=${!isAdmin()}>Import…
        <input type="file" accept=".toml,text/plain" class="sr-only" aria-label="Import a configuration file"
          disabled=${!isAdmin()} onChange=${onFile} /></label>
      <${AdminButton} onClick=${reset} label="Reset the configuration file to the defaults">Reset to default</${AdminButton}>
      ${isAdmin() ? html`<a class="button" href="/api/backup" download data-test="backup-link">Download backup</a>`
        : html`<button disabled title="Read-only: the backup needs the admin role">Download backup</button>`}
    </div>
    <div class="help">Import and reset show what would change and replace the file only once you confirm (secrets are never touched). The backup holds engine.toml, a consistent copy of the database and the logs — no secrets; restore it with <span class="mono">engine restore</span>.</div>
    ${problems && html`<div role="alert" data-test="import-problems"><p class="neg">Nothing was replaced — the file has ${problems.length} problem(s):</p>
      <ul class="field-errors">${problems.map((p) => html`<li key=${p.path + p.message}><span class="mono">${p.path || '(file)'}</span>: ${p.message}</li>`)}</ul></div>`}
  </div>`;
}

const isAdmin = () => currentUser()?.role === 'admin';

export function Versions({ reload, stamp }) {
  const [rows, setRows] = useState(null);
  useEffect(() => { get('/api/config/versions?limit=20').then((r) => setRows(r.versions), notifyError); }, [stamp]);
  const restore = (v) => replaceFlow(`Restore version ${v.id}`, (ok) => post(`/api/config/versions/${v.id}/restore`,
    { confirm: ok }, { action: `Restore version ${v.id}` }), () => reload());
  if (!rows) return html`<p class="muted">Loading versions…</p>`;
  return html`<div class="table-wrap"><table class="data" data-test="versions" aria-label="Configuration versions">
    <thead><tr><th>#</th><th>Time</th><th>User</th><th>Action</th><th>Keys</th><th></th></tr></thead>
    <tbody>${rows.map((v) => html`<tr key=${v.id}><td>${v.id}</td><td>${f.time(v.ts)}</td><td>${v.user || '—'}</td>
      <td>${v.action}</td><td class="wrap mono">${(v.diff || []).map((d) => d.key).join(', ') || '—'}</td>
      <td><${AdminButton} cls="small" onClick=${() => restore(v)} label=${`Restore version ${v.id}`}>Restore</${AdminButton}></td></tr>`)}
    ${!rows.length && html`<tr><td colspan="6" class="muted">No saved versions yet.</td></tr>`}</tbody></table></div>`;
}
