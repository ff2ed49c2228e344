// Small shared components: admin-only buttons (visibly disabled for operators), actions with
// their error reporting, cards, stats, badges, progress bars.
import { useContext, useState } from 'preact/hooks';
import { html, createContext } from './html.js';
import { notify, notifyError } from './notices.js';
import { confirm } from './confirm.js';

// The signed-in user's role; operators get every engine control disabled (read-only mode).
export const RoleContext = createContext('operator');
export const useIsAdmin = () => useContext(RoleContext) === 'admin';
const READ_ONLY = 'Read-only: this action needs the admin role';

// Runs an engine action: optional confirmation, busy state, the outcome or the error (naming
// the action and the field) as a notice. Returns [run, busy].
export function useAction(label, fn, { confirmWith, done } = {}) {
  const [busy, setBusy] = useState(false);
  const run = async (...args) => {
    let choice = { option: false };
    if (confirmWith) {
      choice = await confirm(typeof confirmWith === 'function' ? confirmWith(...args) : confirmWith);
      if (!choice) return undefined;
    }
    setBusy(true);
    try {
      const answer = await fn(...args, choice.option);
      notify('ok', typeof done === 'function' ? done(answer, ...args) : (done || `${label}: done`));
      return answer;
    } catch (e) {
      e.action = e.action || label;
      notifyError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return [run, busy];
}

// A button for an engine control: disabled with an explanation for operators.
export function AdminButton({ onClick, busy, children, cls = '', label, disabled }) {
  const admin = useIsAdmin();
  const off = !admin || busy || disabled;
  return html`<button class=${cls} onClick=${onClick} disabled=${off} aria-label=${label}
    title=${admin ? label : READ_ONLY} aria-busy=${busy ? 'true' : undefined}>${children}</button>`;
}

export function Card({ title, children, cls = '', actions }) {
  return html`<section class=${`card ${cls}`} aria-label=${title}>
    ${(title || actions) && html`<div class="pyramid-head"><h2>${title}</h2>${actions}</div>`}
    ${children}
  </section>`;
}

export function Stat({ label, value, sub, cls = '', test }) {
  return html`<section class=${`card ${cls}`} data-test=${test}>
    <div class="stat-label">${label}</div>
    <div class="stat-value">${value}</div>
    ${sub && html`<div class="stat-sub">${sub}</div>`}
  </section>`;
}

const TONES = {
  running: 'good', active: 'good', connected: 'good', normal: 'good', ok: 'good', live: 'info',
  partially_filled: 'info', processed: 'good', idle: 'idle', paused: 'warn', starting: 'info',
  degraded: 'warn', throttled: 'warn', closing: 'warn', waiting: 'idle', queued: 'idle',
  blocked: 'bad', error: 'bad', disconnected: 'bad', banned: 'bad', failed: 'bad',
  rejected: 'bad', closed: 'idle', duplicate: 'idle', unknown: 'idle', accepted: 'info',
  processing: 'info', warning: 'warn', critical: 'bad', info: 'info', debug: 'idle',
};

export function Badge({ value, label, tone }) {
  const text = label ?? String(value ?? 'unknown').replace(/_/g, ' ');
  return html`<span class=${`badge ${tone || TONES[value] || 'idle'}`}>${text}</span>`;
}

// 0–100 progress bar with its text; value may be a decimal string.
export function Progress({ value, text, label }) {
  const v = Math.max(0, Math.min(100, Number(value) || 0));
  return html`<span class="progress-cell">
    <span class=${`progress${v >= 100 ? ' full' : ''}`} role="progressbar" aria-label=${label}
      aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round(v)}>
      <span style=${{ width: `${v}%` }}></span></span>
    ${text !== undefined && html`<span class="num">${text}</span>`}
  </span>`;
}

export const Loading = ({ what = 'data' }) => html`<p class="muted" role="status">Loading ${what}…</p>`;

export function Empty({ children }) {
  return html`<p class="muted">${children}</p>`;
}

export function ReadOnlyNote() {
  return useIsAdmin() ? null
    : html`<p class="readonly-note">Read-only mode: operators see every control but cannot act.</p>`;
}
