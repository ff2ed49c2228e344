// The shell: login gate, navigation, display toggles, the "live updates paused" banner, the
// pinned alert strip, and the current page (lazy-loaded from the registry in pages/index.js).
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { currentUser, onUserChange, logout, post, isAdmin } from './api.js';
import * as live from './live.js';
import { PAGES } from './pages/index.js';
import { match, useLocation } from './router.js';
import { Login } from './login.js';
import { Notices, notifyError } from './notices.js';
import { ConfirmHost } from './confirm.js';
import { RoleContext, Badge, useAction } from './ui.js';
import { prefs, setPref, setDefaults, usePrefs, FONT_MIN, FONT_MAX } from './prefs.js';
import { time } from './format.js';

const modules = new Map();

function usePage(page) {
  const [mod, setMod] = useState(() => modules.get(page?.path));
  useEffect(() => {
    if (!page) return undefined;
    let alive = true;
    const known = modules.get(page.path);
    setMod(() => known);
    if (!known) {
      page.load().then((m) => { modules.set(page.path, m); if (alive) setMod(() => m); },
        (e) => notifyError({ action: `Load page ${page.title}`, message: String(e) }));
    }
    return () => { alive = false; };
  }, [page]);
  return mod;
}

export function App() {
  const [user, setUser] = useState(currentUser());
  const [flash, setFlash] = useState('');
  useEffect(() => onUserChange((u, why) => { setUser(u); setFlash(why); }), []);
  useEffect(() => {
    if (!user) { live.stop(); return undefined; }
    live.start();
    return live.subscribe('config', (c) => setDefaults(c?.running?.ui));
  }, [user]);
  if (!user) return html`<${Login} flash=${flash} /><${Notices} />`;
  return html`<${RoleContext.Provider} value=${user.role}><${Shell} user=${user} /></${RoleContext.Provider}>`;
}

function Shell({ user }) {
  const loc = useLocation();
  usePrefs(); // re-render on theme / zone changes: times are formatted in the chosen zone
  const pathname = loc.split('?')[0];
  const found = match(pathname);
  const page = found?.page;
  const mod = usePage(page);
  useEffect(() => { document.title = `${page ? page.title : 'Not found'} · Execution Engine`; }, [page]);
  const Page = mod?.default;
  const query = new URLSearchParams(loc.split('?')[1] || '');
  return html`
    <a class="sr-only" href="#content">Skip to content</a>
    <header class="topbar">
      <a class="brand" href="/"><img src="/static/favicon.svg" alt="" /> Execution Engine</a>
      <nav class="main" aria-label="Pages">
        ${PAGES.filter((p) => p.nav && (!p.admin || user.role === 'admin')).map((p) => html`
          <a key=${p.path} href=${p.path} aria-current=${p === page ? 'page' : undefined}>${p.nav}</a>`)}
      </nav>
      <${Tools} user=${user} />
    </header>
    <${LiveBanner} />
    <${AlertStrip} />
    <main id="content" tabindex="-1">
      <h1>${page ? page.title : 'Page not found'}</h1>
      ${!page && html`<p>No page at ${pathname}. <a href="/">Go to the dashboard</a>.</p>`}
      ${page && !Page && html`<p class="muted" role="status">Loading…</p>`}
      ${page && Page && html`<${Page} key=${pathname} params=${found.params} query=${query} />`}
    </main>
    <${ConfirmHost} />
    <${Notices} />`;
}

function Tools({ user }) {
  const p = usePrefs();
  const size = (d) => setPref('fontSize', Math.max(FONT_MIN, Math.min(FONT_MAX, prefs.fontSize + d)));
  return html`<div class="tools">
    <button class="small" onClick=${() => setPref('theme', p.theme === 'dark' ? 'light' : 'dark')}
      aria-label=${`Switch to ${p.theme === 'dark' ? 'light' : 'dark'} theme`}
      title="Light / dark theme">${p.theme === 'dark' ? '☀' : '☾'}</button>
    <button class="small" onClick=${() => setPref('tz', p.tz === 'utc' ? 'local' : 'utc')}
      aria-label=${`Show times in ${p.tz === 'utc' ? 'local time' : 'UTC'}`}
      title="Times in UTC or in this browser's time zone">${p.tz === 'utc' ? 'UTC' : 'Local'}</button>
    <button class="small" onClick=${() => size(-1)} aria-label="Smaller text" disabled=${p.fontSize <= FONT_MIN}>A−</button>
    <button class="small" onClick=${() => size(1)} aria-label="Larger text" disabled=${p.fontSize >= FONT_MAX}>A+</button>
    <span class="who">${user.username} <${Badge} value=${user.role} tone=${user.role === 'admin' ? 'info' : 'idle'} /></span>
    <button class="small" onClick=${logout}>Log out</button>
  </div>`;
}

function LiveBanner() {
  const state = live.useLiveState();
  if (state !== 'paused') return null;
  return html`<div class="banner" role="status" data-test="live-paused">
    Live updates paused — the connection to the engine dropped. Refreshing every
    ${Math.max(live.refreshInterval(), 250) / 1000} s until it is back.
  </div>`;
}

const HIGH = new Set(['error', 'critical']);

// The latest high-severity alerts, on every page; admins dismiss them (they stay in the log).
export function AlertStrip({ limit = 3 }) {
  const data = live.useTopic('alerts');
  const [dismiss, busy] = useAction('Dismiss alert', (id) => post(`/api/alerts/${id}/dismiss`),
    { done: 'Alert dismissed (it stays in the log)' });
  const high = (data?.alerts || []).filter((a) => HIGH.has(a.level));
  if (!high.length) return null;
  const admin = isAdmin();
  return html`<div class="strip" role="region" aria-label="Pinned alerts">
    ${high.slice(0, limit).map((a) => html`<div class=${`alert ${a.level}`} key=${a.id} data-alert=${a.id}>
      <${Badge} value=${a.level} />
      <span class="msg"><strong>${a.category}</strong> · ${a.message} <span class="muted">· ${time(a.ts)}</span></span>
      <button class="small" disabled=${!admin || busy} onClick=${() => dismiss(a.id)}
        title=${admin ? 'Dismiss' : 'Read-only: dismissing needs the admin role'}
        aria-label=${`Dismiss alert ${a.id}`}>Dismiss</button>
    </div>`)}
    ${high.length > limit && html`<div class="alert"><span class="msg">${high.length - limit} more —
      <a href="/logs">Logs & Alerts</a></span></div>`}
  </div>`;
}
