// One form control per catalogue entry (GET /api/config/schema): label, unit, allowed range,
// help, the key path, and the engine's own messages for it. Special keys (ladders, override
// rules, the priority list) have their own editors; everything else is built from the type.
import { html } from '../html.js';
import { Num, num, problemsAt, text } from './draft.js';

export function Problems({ problems, path }) {
  const own = problemsAt(problems, path);
  if (!own.length) return null;
  return html`<ul class="field-errors" role="alert">${own.map((p) => html`
    <li key=${p.path + p.message} data-path=${p.path}><span class="mono">${p.path}</span>: ${p.message}</li>`)}</ul>`;
}

// "Max open groups (groups, ≥ 1)" — the label with its unit and range.
export function Label({ field }) {
  const extra = [field.unit, field.range].filter(Boolean).join(', ');
  return html`<span class="label-text">${field.label}${extra && html` <span class="muted">(${extra})</span>`}</span>`;
}

const APPLY = {
  immediate: 'applies at once', next_cycle: 'from the next risk cycle', new_groups: 'new groups only',
  exchange_rebuild: 'applies at once (the exchange client reconnects)', restart: 'needs a restart',
  identity: 'refused while a group is open or queued',
};

export function FieldShell({ field, problems, children, wide }) {
  const bad = problemsAt(problems, field.path).length > 0;
  return html`<div class=${`setting${wide ? ' wide' : ''}${bad ? ' invalid' : ''}`} data-key=${field.path}>
    ${children}
    <div class="help">${field.help}
      <span class="muted"> · <span class="mono">${field.path}</span> · ${APPLY[field.apply] || field.apply_text}</span></div>
    <${Problems} problems=${problems} path=${field.path} />
  </div>`;
}

function NumberInput({ value, onChange, disabled, label, id }) {
  return html`<input id=${id} type="text" inputmode="decimal" class="num-input" aria-label=${label}
    value=${text(value)} disabled=${disabled} autocomplete="off"
    onInput=${(e) => onChange(new Num(e.currentTarget.value))} />`;
}

function ListInput({ value, onChange, disabled, label, id }) {
  return html`<input id=${id} type="text" aria-label=${label} disabled=${disabled}
    value=${(value || []).join(', ')} placeholder="comma-separated"
    onChange=${(e) => onChange(e.currentTarget.value.split(',').map((s) => s.trim()).filter(Boolean))} />`;
}

function Choices({ field, value, onChange, disabled }) {
  const set = new Set(value || []);
  return html`<div class="actions">${field.choices.map((c) => html`
    <label class="check" key=${c}><input type="checkbox" checked=${set.has(c)} disabled=${disabled}
      onChange=${(e) => onChange(field.choices.filter((x) => (x === c ? e.currentTarget.checked : set.has(x))))} /> ${c}</label>`)}</div>`;
}

// The plain control for a scalar or a list of names.
export function Scalar({ field, value, onChange, disabled, label }) {
  const id = `f-${field.path}`;
  const aria = label || field.label;
  switch (field.type) {
    case 'bool':
      return html`<label class="check"><input id=${id} type="checkbox" checked=${!!value} disabled=${disabled}
        onChange=${(e) => onChange(e.currentTarget.checked)} /> <${Label} field=${field} /></label>`;
    case 'enum':
      return html`<select id=${id} aria-label=${aria} value=${value ?? ''} disabled=${disabled}
        onChange=${(e) => onChange(e.currentTarget.value)}>
        ${field.optional && html`<option value="">(global value)</option>`}
        ${field.enum.map((o) => html`<option key=${o} value=${o}>${o}</option>`)}</select>`;
    case 'int': case 'dec':
      return html`<${NumberInput} id=${id} label=${aria} value=${value} onChange=${onChange} disabled=${disabled} />`;
    case 'list':
      return field.choices
        ? html`<${Choices} field=${field} value=${value} onChange=${onChange} disabled=${disabled} />`
        : html`<${ListInput} id=${id} label=${aria} value=${value} onChange=${onChange} disabled=${disabled} />`;
    default:
      return html`<input id=${id} type="text" aria-label=${aria} value=${text(value)} disabled=${disabled}
        autocomplete="off" onInput=${(e) => onChange(e.currentTarget.value)} />`;
  }
}

export function ScalarField({ field, value, onChange, disabled, problems }) {
  if (field.type === 'bool') {
    return html`<${FieldShell} field=${field} problems=${problems}>
      <${Scalar} field=${field} value=${value} onChange=${onChange} disabled=${disabled} /></${FieldShell}>`;
  }
  return html`<${FieldShell} field=${field} problems=${problems}>
    <label class="field" for=${`f-${field.path}`}><${Label} field=${field} /></label>
    <${Scalar} field=${field} value=${value} onChange=${onChange} disabled=${disabled} />
  </${FieldShell}>`;
}

// A table with free keys whose values are text, numbers, lists or small tables (start
// balances, replay files, precision overrides, remembered columns).
export function MapField({ field, value, onChange, disabled, problems, fields }) {
  const entries = Object.entries(value || {});
  const item = field.item || { type: 'str' };
  const sub = item.type === 'table' ? fields.filter((f) => f.parent === field.path) : [];
  const put = (list) => onChange(Object.fromEntries(list));
  const blank = () => (item.type === 'table' ? Object.fromEntries(sub.map((f) => [f.path.split('.').pop(), new Num('')]))
    : item.type === 'list' ? [] : item.type === 'dec' ? new Num('0') : '');
  const cell = (v, i) => {
    const set = (nv) => put(entries.map(([k, x], j) => [k, j === i ? nv : x]));
    if (item.type === 'table') {
      return sub.map((f) => {
        const name = f.path.split('.').pop();
        return html`<label class="field inline" key=${name}>${f.label}
          <${Scalar} field=${{ ...f, path: `${field.path}.${entries[i][0]}.${name}` }} label=${`${entries[i][0]} ${f.label}`}
            value=${v?.[name]} disabled=${disabled} onChange=${(nv) => set({ ...v, [name]: num(nv) })} /></label>`;
      });
    }
    return html`<${Scalar} field=${{ ...field, ...item, choices: null, path: `${field.path}.${entries[i][0]}` }}
      label=${`${field.label} ${entries[i][0]}`} value=${v} disabled=${disabled} onChange=${set} />`;
  };
  return html`<${FieldShell} field=${field} problems=${problems} wide=${true}>
    <div class="field"><${Label} field=${field} /></div>
    <div class="map-rows">
      ${entries.map(([k, v], i) => html`<div class="map-row" key=${i}>
        <input type="text" class="map-key" aria-label=${`${field.label}: key`} value=${k} disabled=${disabled}
          onChange=${(e) => put(entries.map(([kk, vv], j) => [j === i ? e.currentTarget.value.trim() : kk, vv]))} />
        ${cell(v, i)}
        <button class="small" disabled=${disabled} aria-label=${`Remove ${k}`}
          onClick=${() => put(entries.filter((_, j) => j !== i))}>Remove</button></div>`)}
      ${!entries.length && html`<p class="muted">None.</p>`}
    </div>
    <button class="small" disabled=${disabled} onClick=${() => put([...entries, [`new${entries.length + 1}`, blank()]])}>
      Add entry</button>
  </${FieldShell}>`;
}
