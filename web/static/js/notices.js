// Short messages for the user (action results and errors), announced to screen readers.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { errorText } from './api.js';

let items = [];
let nextId = 1;
const listeners = new Set();
const emit = () => { for (const fn of listeners) fn(items); };

export function notify(kind, text, ms = kind === 'error' ? 12000 : 4000) {
  const id = nextId++;
  items = [...items, { id, kind, text }].slice(-4);
  emit();
  setTimeout(() => dismiss(id), ms);
}

export const notifyError = (e) => notify('error', errorText(e));

function dismiss(id) {
  items = items.filter((n) => n.id !== id);
  emit();
}

export function Notices() {
  const [list, setList] = useState(items);
  useEffect(() => { listeners.add(setList); return () => listeners.delete(setList); }, []);
  return html`<div class="notices" role="status" aria-live="polite">
    ${list.map((n) => html`<div class=${`notice ${n.kind}`} key=${n.id}>
      <span class="msg">${n.text}</span>
      <button class="link" onClick=${() => dismiss(n.id)} aria-label="Dismiss message">✕</button>
    </div>`)}
  </div>`;
}
