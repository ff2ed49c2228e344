// The Grid & TP editors: a ladder as rows (gap / weight / TP per leg) with its live weight
// sum, legs added, removed and moved; pyramid-specific ladders; per-symbol override rules.
import { html } from '../html.js';
import { Num, decimalSum, num, problemsAt, text } from './draft.js';
import { FieldShell, Label, Problems, Scalar } from './fields.js';

const LEG_KEYS = ['gap_percent', 'weight_percent', 'tp_percent'];
const LEG_LABELS = { gap_percent: 'Gap %', weight_percent: 'Weight %', tp_percent: 'TP %' };

const asLegs = (value) => (value || []).map((leg) => Object.fromEntries(LEG_KEYS.map((k) => [k, num(leg[k])])));

export function Ladder({ value, onChange, disabled, problems, path, name }) {
  const legs = asLegs(value);
  const put = (next) => onChange(next);
  const edit = (i, key, v) => put(legs.map((leg, j) => (j === i ? { ...leg, [key]: new Num(v) } : leg)));
  const move = (i, d) => {
    const next = [...legs];
    [next[i], next[i + d]] = [next[i + d], next[i]];
    put(next);
  };
  const add = () => {
    const last = legs[legs.length - 1];
    const gap = last ? decimalSum([last.gap_percent, '-0.5']) : '0';
    put([...legs, { gap_percent: new Num(gap ?? '0'), weight_percent: new Num('0'), tp_percent: new Num('1') }]);
  };
  const sum = decimalSum(legs.map((l) => l.weight_percent));
  const complete = sum !== null && Math.abs(Number(sum) - 100) <= 0.01;
  return html`<div class="ladder" data-ladder=${path}>
    <table class="data ladder-table" aria-label=${name}>
      <thead><tr><th>Leg</th>${LEG_KEYS.map((k) => html`<th key=${k} class="num">${LEG_LABELS[k]}</th>`)}<th>Order</th><th></th></tr></thead>
      <tbody>${legs.map((leg, i) => {
        const legPath = `${path}[${i}]`;
        const bad = problemsAt(problems, legPath).length > 0;
        return html`<tr key=${i} class=${bad ? 'invalid' : ''} data-leg=${i}>
          <td>DCA${i}</td>
          ${LEG_KEYS.map((k) => html`<td key=${k}><input type="text" inputmode="decimal" class="num-input"
            aria-label=${`${name} DCA${i} ${LEG_LABELS[k]}`} value=${text(leg[k])} disabled=${disabled}
            onInput=${(e) => edit(i, k, e.currentTarget.value)} /></td>`)}
          <td><button class="small" disabled=${disabled || i === 0} aria-label=${`Move DCA${i} up`}
              onClick=${() => move(i, -1)}>↑</button>
            <button class="small" disabled=${disabled || i === legs.length - 1} aria-label=${`Move DCA${i} down`}
              onClick=${() => move(i, 1)}>↓</button></td>
          <td><button class="small" disabled=${disabled || legs.length <= 1} aria-label=${`Remove DCA${i}`}
            onClick=${() => put(legs.filter((_, j) => j !== i))}>Remove</button></td></tr>`;
      })}</tbody>
    </table>
    <div class="ladder-foot">
      <button class="small" disabled=${disabled} onClick=${add}>Add leg</button>
      <span class=${`weight-sum ${complete ? 'pos' : 'neg'}`} data-test="weight-sum" role="status">
        Weights: ${sum ?? '?'} % ${complete ? '✓' : '(must add up to 100)'}</span>
    </div>
    <${Problems} problems=${problems} path=${path} />
  </div>`;
}

export function LadderField({ field, value, onChange, disabled, problems }) {
  return html`<${FieldShell} field=${field} problems=${[]} wide=${true}>
    <div class="field"><${Label} field=${field} /></div>
    <${Ladder} value=${value} onChange=${onChange} disabled=${disabled} problems=${problems}
      path=${field.path} name=${field.label} />
  </${FieldShell}>`;
}

// pyramid index ("0".."9") -> its own ladder
export function PyramidLadders({ field, value, onChange, disabled, problems, fallback, path = field.path }) {
  const table = value || {};
  const used = Object.keys(table).sort();
  const free = [...Array(10).keys()].map(String).filter((k) => !used.includes(k));
  return html`<div class="pyramid-ladders">
    ${used.map((k) => html`<div class="sub-card" key=${k}>
      <div class="pyramid-head"><h3>Pyramid ${k}</h3>
        <button class="small" disabled=${disabled} aria-label=${`Remove the ladder of pyramid ${k}`}
          onClick=${() => onChange(Object.fromEntries(Object.entries(table).filter(([kk]) => kk !== k)))}>Remove</button></div>
      <${Ladder} value=${table[k]} disabled=${disabled} problems=${problems} path=${`${path}.${k}`}
        name=${`Pyramid ${k} ladder`} onChange=${(legs) => onChange({ ...table, [k]: legs })} /></div>`)}
    ${!used.length && html`<p class="muted">Every pyramid uses the default ladder.</p>`}
    <label class="check">Add a ladder for pyramid
      <select aria-label="Pyramid index for a new ladder" disabled=${disabled || !free.length} value=""
        onChange=${(e) => e.currentTarget.value && onChange({ ...table, [e.currentTarget.value]: asLegs(fallback) })}>
        <option value="">choose…</option>${free.map((k) => html`<option key=${k} value=${k}>${k}</option>`)}
      </select></label>
    <${Problems} problems=${problems.filter((p) => !used.some((k) => p.path.startsWith(`${path}.${k}`)))} path=${path} />
  </div>`;
}

export function PyramidLaddersField(props) {
  return html`<${FieldShell} field=${props.field} problems=${[]} wide=${true}>
    <div class="field"><${Label} field=${props.field} /></div><${PyramidLadders} ...${props} /></${FieldShell}>`;
}

// "<exchange>:<SYMBOL>:<TF>" -> grid keys that replace the global ones for that symbol
export function OverrideRules({ field, value, onChange, disabled, problems, fields, draft }) {
  const rules = Object.entries(value || {});
  const grid = draft.grid_strategy || {};
  const own = fields.filter((f) => f.parent === field.path);
  const put = (list) => onChange(Object.fromEntries(list));
  const setRule = (i, rule) => put(rules.map(([k, r], j) => [k, j === i ? rule : r]));
  const quoted = (k) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : `"${k}"`);
  return html`<${FieldShell} field=${field} problems=${[]} wide=${true}>
    <div class="field"><${Label} field=${field} /></div>
    ${rules.map(([key, rule], i) => {
      const base = `${field.path}.${quoted(key)}`;
      const mine = problems.filter((p) => p.path === base || p.path.startsWith(`${base}.`));
      return html`<div class="sub-card" key=${i} data-override=${key}>
        <div class="pyramid-head">
          <input type="text" class="map-key" aria-label="Override rule key" value=${key} disabled=${disabled}
            onChange=${(e) => put(rules.map(([k, r], j) => [j === i ? e.currentTarget.value.trim() : k, r]))} />
          <button class="small" disabled=${disabled} aria-label=${`Delete the override rule ${key}`}
            onClick=${() => put(rules.filter((_, j) => j !== i))}>Delete rule</button></div>
        <${Problems} problems=${mine.filter((p) => p.path === base)} path=${base} />
        ${own.map((f) => {
          const name = f.path.split('.').pop();
          const on = rule[name] !== undefined && rule[name] !== null;
          const toggle = (checked) => {
            const next = { ...rule };
            if (checked) next[name] = f.type === 'ladder' ? asLegs(grid.dca_levels) : f.type === 'map' ? {}
              : f.type === 'enum' ? grid[name] : num(grid[name] ?? '0');
            else delete next[name];
            setRule(i, next);
          };
          return html`<div class="override-key" key=${name}>
            <label class="check"><input type="checkbox" checked=${on} disabled=${disabled}
              aria-label=${`${key}: override ${f.label}`} onChange=${(e) => toggle(e.currentTarget.checked)} />
              <${Label} field=${f} /></label>
            ${on && f.type === 'ladder' && html`<${Ladder} value=${rule[name]} disabled=${disabled} problems=${mine}
              path=${`${base}.${name}`} name=${`${key} ladder`} onChange=${(v) => setRule(i, { ...rule, [name]: v })} />`}
            ${on && f.type === 'map' && html`<${PyramidLadders} field=${f} value=${rule[name]} disabled=${disabled}
              problems=${mine} path=${`${base}.${name}`} fallback=${rule.dca_levels || grid.dca_levels}
              onChange=${(v) => setRule(i, { ...rule, [name]: v })} />`}
            ${on && f.type !== 'ladder' && f.type !== 'map' && html`<${Scalar} field=${{ ...f, optional: false }}
              label=${`${key} ${f.label}`} value=${rule[name]} disabled=${disabled}
              onChange=${(v) => setRule(i, { ...rule, [name]: v })} />`}
            ${on && f.type !== 'ladder' && f.type !== 'map' && html`<${Problems} problems=${mine} path=${`${base}.${name}`} />`}
          </div>`;
        })}
      </div>`;
    })}
    ${!rules.length && html`<p class="muted">No override rules: every symbol uses the global settings.</p>`}
    <button class="small" disabled=${disabled}
      onClick=${() => put([...rules, [`${draft.exchange?.name || 'paper'}:BTCUSDT:*`, {}]])}>Add override rule</button>
  </${FieldShell}>`;
}
