// The queue's priority rules as a list to reorder: drag and drop with the mouse, or the
// keyboard (Alt+↑ / Alt+↓ on a focused rule, or its ↑ / ↓ buttons); rules can be removed and
// added back from the known names.
import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { FieldShell, Label } from './fields.js';

const NAMES = {
  pyramid_continuation: 'Pyramid continuation (an open group adding a pyramid)',
  highest_loss_percent: 'Highest loss %',
  highest_replacement_count: 'Most replacements',
  highest_expected_profit: 'Highest expected profit',
  fifo: 'First in, first out',
};

export function PriorityField({ field, value, onChange, disabled, problems }) {
  const items = value || [];
  const [dragged, setDragged] = useState(null);
  const move = (from, to) => {
    if (to < 0 || to >= items.length || from === to) return;
    const next = [...items];
    const [x] = next.splice(from, 1);
    next.splice(to, 0, x);
    onChange(next);
    // keep the keyboard focus on the moved rule
    requestAnimationFrame(() => document.querySelector(`[data-rule="${x}"]`)?.focus());
  };
  const onKey = (e, i) => {
    if (!e.altKey || disabled) return;
    if (e.key === 'ArrowUp') { e.preventDefault(); move(i, i - 1); }
    if (e.key === 'ArrowDown') { e.preventDefault(); move(i, i + 1); }
  };
  const missing = (field.choices || []).filter((c) => !items.includes(c));
  return html`<${FieldShell} field=${field} problems=${problems} wide=${true}>
    <div id="priority-label"><${Label} field=${field} />
      <span class="muted"> — drag a rule, or focus it and press Alt+↑ / Alt+↓</span></div>
    <ol class="priority" aria-labelledby="priority-label">
      ${items.map((name, i) => html`<li key=${name} data-rule=${name} tabindex=${disabled ? -1 : 0}
        draggable=${!disabled} class=${dragged === i ? 'dragging' : ''}
        aria-label=${`${i + 1}. ${NAMES[name] || name}`} onKeyDown=${(e) => onKey(e, i)}
        onDragStart=${(e) => { setDragged(i); e.dataTransfer.effectAllowed = 'move'; e.dataTransfer.setData('text/plain', String(i)); }}
        onDragOver=${(e) => e.preventDefault()}
        onDrop=${(e) => { e.preventDefault(); move(Number(e.dataTransfer.getData('text/plain')), i); setDragged(null); }}
        onDragEnd=${() => setDragged(null)}>
        <span class="grip" aria-hidden="true">⠿</span>
        <span class="rule-name">${i + 1}. ${NAMES[name] || name}</span>
        <span class="actions">
          <button class="small" disabled=${disabled || i === 0} aria-label=${`Move ${name} up`} onClick=${() => move(i, i - 1)}>↑</button>
          <button class="small" disabled=${disabled || i === items.length - 1} aria-label=${`Move ${name} down`} onClick=${() => move(i, i + 1)}>↓</button>
          <button class="small" disabled=${disabled || items.length <= 1} aria-label=${`Remove ${name}`}
            onClick=${() => onChange(items.filter((x) => x !== name))}>Remove</button></span>
      </li>`)}
    </ol>
    ${missing.length > 0 && html`<div class="actions">Add: ${missing.map((name) => html`
      <button class="small" key=${name} disabled=${disabled} onClick=${() => onChange([...items, name])}>${NAMES[name] || name}</button>`)}</div>`}
  </${FieldShell}>`;
}
