// F) Settings (SPEC 11.5 F, 10.1): every engine.toml key, in the sections of the catalogue
// (GET /api/config/schema), checked by the engine as you type (POST /api/config/preview: the
// messages of `engine check-config`), with a Live Preview, Save (atomic, comments kept) and
// Apply (hot reload, saying what took effect now, for new groups only, or after a restart).
// Operators see the whole page with every input disabled, and no secrets or users.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, post, request } from '../api.js';
import { notify, notifyError } from '../notices.js';
import { AdminButton, Card, Loading, ReadOnlyNote, useIsAdmin } from '../ui.js';
import * as f from '../format.js';
import { changesOf, encode, getPath, setPath } from '../settings/draft.js';
import { MapField, ScalarField } from '../settings/fields.js';
import { LadderField, OverrideRules, PyramidLaddersField } from '../settings/ladder.js';
import { PriorityField } from '../settings/priority.js';
import { LadderPreview, RunningDiff, Validation } from '../settings/preview.js';
import { ExchangeTest, LocalStorage, SecretField, Versions } from '../settings/admin.js';
import { Users } from '../settings/users.js';
import { MarketsSource } from '../status_cards.js';

const SPECIAL = {
  'grid_strategy.dca_levels': LadderField,
  'grid_strategy.pyramid_specific_levels': PyramidLaddersField,
  'grid_strategy.overrides': OverrideRules,
  'waiting_rule.selection_priority': PriorityField,
};
const OUTCOME = { now: 'Took effect now', new_groups: 'For new groups and pyramids only', restart: 'Needs a restart' };

function PrecisionSync() {
  const [p, setP] = useState(null);
  const load = () => get('/api/precision').then(setP, () => null);
  useEffect(() => { load(); }, []);
  return html`<div class="setting"><p>Last metadata sync: ${p?.last_sync_at ? f.time(p.last_sync_at) : 'never'}
    · ${p ? p.symbols.length : '…'} symbols ${p?.failures ? html`· <span class="neg">${p.failures} failures</span>` : ''}</p>
    ${p?.markets_source && html`<p>Paper markets: <${MarketsSource} m=${p.markets_source} /></p>`}
    <${AdminButton} cls="small" label="Fetch the market rules now" onClick=${async () => {
      try { await post('/api/precision/refresh', {}, { action: 'Fetch market rules' }); notify('ok', 'Market rules requested'); setTimeout(load, 1500); } catch (e) { notifyError(e); }
    }}>Fetch now</${AdminButton}></div>`;
}

function Applied({ result, classes }) {
  if (!result) return null;
  const groups = { now: [], new_groups: [], restart: [] };
  for (const key of result.changed) groups[classes[result.effects?.[key]] || 'now'].push(key);
  return html`<div class="applied" role="status" data-test="applied">
    ${!result.changed.length && html`<p>Applied: nothing changed.</p>`}
    ${Object.entries(groups).filter(([, keys]) => keys.length).map(([cls, keys]) => html`
      <p key=${cls}><strong>${OUTCOME[cls]}:</strong> <span class="mono">${keys.join(', ')}</span></p>`)}</div>`;
}

export default function Settings() {
  const admin = useIsAdmin();
  const [schema, setSchema] = useState(null);
  const [cfg, setCfg] = useState(null);
  const [draft, setDraft] = useState(null);
  const [check, setCheck] = useState(null);
  const [pending, setPending] = useState(false);
  const [secrets, setSecrets] = useState({});
  const [applied, setApplied] = useState(null);
  const [stamp, setStamp] = useState(0);
  const seq = useRef(0);

  const loadSecrets = () => admin && get('/api/secrets').then(
    (r) => setSecrets(Object.fromEntries(r.secrets.map((s) => [s.name, s]))), notifyError);
  const load = async (keepDraft = false) => {
    const c = await get('/api/config');
    setCfg(c);
    if (!keepDraft) setDraft(c.file || c.running);
    setStamp((n) => n + 1);
    return c;
  };
  useEffect(() => {
    get('/api/config/schema').then(setSchema, notifyError);
    load().catch(notifyError);
    loadSecrets();
  }, []);

  const fields = schema?.fields || [];
  const base = cfg ? cfg.file || cfg.running : null;
  const changes = useMemo(() => (draft && base ? changesOf(fields, base, draft) : {}), [draft, cfg, schema]);
  const dirty = Object.keys(changes).length > 0;
  const body = encode({ changes });
  const autoSave = !!cfg?.running?.ui?.auto_save_config;
  const fileState = cfg && { valid: !cfg.problems.length, problems: cfg.problems, diff_running: cfg.diff,
    restart_required: cfg.restart_required, refused_while_open: [] };
  const shown = dirty ? check : fileState;
  const canSave = admin && dirty && !pending && !!check?.valid;

  const save = async () => {
    try {
      await request('PUT', '/api/config', { raw: body, action: 'Save settings' });
      await load(true);
      notify('ok', autoSave ? 'Saved automatically' : 'Settings saved (not applied yet)');
    } catch (e) { notifyError(e); }
  };
  useEffect(() => { // validation as you type (and auto-save of a valid draft)
    if (!admin || !dirty) { setCheck(null); setPending(false); return undefined; }
    setPending(true);
    const mine = ++seq.current;
    const timer = setTimeout(async () => {
      try {
        const r = await request('POST', '/api/config/preview', { raw: body, action: 'Check settings' });
        if (mine !== seq.current) return;
        setCheck(r);
        if (r.valid && autoSave) await save();
      } catch (e) { if (mine === seq.current) notifyError(e); } finally { if (mine === seq.current) setPending(false); }
    }, 400);
    return () => clearTimeout(timer);
  }, [body, admin]);

  const apply = async () => {
    try {
      const r = await post('/api/config/apply', {}, { action: 'Apply' });
      setApplied(r);
      await load();
    } catch (e) {
      setApplied(null);
      notifyError(e);
    }
  };

  if (!schema || !cfg || !draft) return html`<${Loading} what="the settings" />`;
  const problems = shown?.problems || [];
  const edit = (path) => (value) => setDraft((d) => setPath(d, path, value));
  const render = (field) => {
    if (field.secret) {
      return admin ? html`<${SecretField} key=${field.path} field=${field} info=${secrets[field.path]} onChange=${loadSecrets} />`
        : html`<div class="setting" key=${field.path} data-key=${field.path}><span class="label-text">${field.label}</span>
          <span class="muted"> — hidden: secrets are shown to admins only</span></div>`;
    }
    const Editor = SPECIAL[field.path] || (field.type === 'map' ? MapField : ScalarField);
    return html`<${Editor} key=${field.path} field=${field} value=${getPath(draft, field.path)}
      onChange=${edit(field.path)} disabled=${!admin} problems=${problems} fields=${fields} draft=${draft}
      fallback=${draft.grid_strategy?.dca_levels} />`;
  };
  const extras = {
    'Exchange API': html`<${ExchangeTest} />`,
    Precision: html`<${PrecisionSync} />`,
    Security: admin ? html`<h3>Users</h3><${Users} />` : html`<p class="muted">User management: admins only.</p>`,
    'Local Storage': html`<${LocalStorage} reload=${() => load().catch(notifyError)} />
      <h3>Saved versions</h3><${Versions} stamp=${stamp} reload=${() => load().catch(notifyError)} />`,
  };
  return html`
    <${ReadOnlyNote} />
    <div class="settings-bar card" data-test="settings-bar">
      <span role="status" data-test="settings-state">${dirty ? (pending ? 'Checking your changes…' : check?.valid ? 'Unsaved valid changes' : 'Unsaved changes with problems')
        : cfg.differs ? 'Saved; differs from the running configuration (press Apply)' : 'The running configuration'}
        ${autoSave && html` <span class="muted">· auto-save on</span>`}</span>
      <div class="actions">
        <${AdminButton} cls="primary" onClick=${save} disabled=${!canSave} label="Save">Save</${AdminButton}>
        <${AdminButton} onClick=${() => setDraft(base)} disabled=${!dirty} label="Discard changes">Discard</${AdminButton}>
        <${AdminButton} onClick=${apply} disabled=${dirty || !cfg.differs || !!cfg.problems.length}
          label="Apply & Restart Engine">Apply & Restart Engine</${AdminButton}>
      </div>
      <${Applied} result=${applied} classes=${schema.effect_classes} />
    </div>
    <${Card} title="Live Preview" cls="live-preview">
      <${Validation} check=${shown} pending=${dirty && pending} />
      <h3>Compared with the running configuration</h3><${RunningDiff} check=${shown} />
      <h3>Ladder</h3><${LadderPreview} changes=${changes} locked=${!admin}
        enabled=${admin && !(dirty && (pending || !check?.valid))} />
    </${Card}>
    ${schema.sections.map((section) => html`<details open class="card settings-section" key=${section} data-section=${section}>
      <summary><h2>${section}</h2></summary>
      <div class="settings-grid">${fields.filter((x) => x.section === section && !x.parent).map(render)}</div>
      ${extras[section]}
    </details>`)}`;
}
