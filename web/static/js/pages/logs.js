// Panel E — Logs & Alerts (SPEC 11.5 E): the live event console with filters (category, level,
// pair, timeframe, event, date range, free text), auto-scroll, colour coding, critical failures
// highlighted, and the export of the current filter as txt / csv / json.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get, query } from '../api.js';
import { subscribe } from '../live.js';
import { notifyError } from '../notices.js';
import { prefs } from '../prefs.js';
import * as f from '../format.js';

const CATEGORIES = ['system', 'webhook', 'order', 'risk', 'precision', 'config', 'security'];
const LEVELS = ['debug', 'info', 'warning', 'error', 'critical'];
const PAGE = 200;
const KEEP = 2000; // lines kept in the console
// rejected orders, invalid precision, exchange / API errors, rate-limit hits (SPEC 11.5 E)
const CRITICAL = /rejected|precision_sync_failed|precision_fallback|exchange_error|rate_limit|throttl|banned|order_dropped|storage_failure|crashed/;
const EMPTY = { category: '', level: '', symbol: '', timeframe: '', event: '', from: '', to: '', q: '' };

// A datetime-local value read in the zone the user shows times in.
function toMs(value) {
  if (!value) return '';
  const ms = prefs.tz === 'utc' ? Date.parse(`${value}Z`) : new Date(value).getTime();
  return Number.isFinite(ms) ? ms : '';
}

function params(filters) {
  return {
    category: filters.category, level: filters.level, symbol: filters.symbol.trim().toUpperCase(),
    timeframe: filters.timeframe.trim(), event: filters.event.trim(), q: filters.q.trim(),
    from: toMs(filters.from), to: toMs(filters.to),
  };
}

function lineClass(e) {
  const cls = [`line lvl-${e.level}`];
  if (e.category === 'risk') cls.push('cat-risk');
  if (e.category === 'order' && e.level === 'info') cls.push('ok-order');
  if (e.level === 'critical' || (CRITICAL.test(e.event || '') && e.level !== 'debug')) cls.push('critical');
  return cls.join(' ');
}

function merge(older, newer) {
  const byId = new Map();
  for (const e of [...older, ...newer]) byId.set(e.id, e);
  return [...byId.values()].sort((a, b) => a.id - b.id).slice(-KEEP);
}

export default function Logs() {
  const [filters, setFilters] = useState(EMPTY);
  const [applied, setApplied] = useState(EMPTY);
  const [events, setEvents] = useState(null); // oldest first
  const [cursor, setCursor] = useState(null);
  const [auto, setAuto] = useState(true);
  const box = useRef(null);

  useEffect(() => { // text filters apply after a short pause in typing
    const t = setTimeout(() => setApplied(filters), 300);
    return () => clearTimeout(t);
  }, [filters]);

  useEffect(() => {
    let alive = true;
    let busy = false;
    let again = false;
    const load = async (fresh) => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        const page = await get(`/api/logs${query({ ...params(applied), limit: PAGE })}`, { action: 'Load logs' });
        if (!alive) return;
        const rows = [...page.events].reverse();
        setEvents((old) => (fresh || !old ? rows : merge(old, rows)));
        if (fresh) setCursor(page.next_cursor);
      } catch (e) { if (alive) notifyError(e); }
      finally {
        busy = false;
        if (again && alive) { again = false; setTimeout(() => load(false), 1000); }
      }
    };
    load(true);
    const off = subscribe('logs', () => load(false)); // new events: fetch the newest page again
    return () => { alive = false; off(); };
  }, [applied]);

  useLayoutEffect(() => {
    if (auto && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [events, auto]);

  const older = async () => {
    try {
      const page = await get(`/api/logs${query({ ...params(applied), limit: PAGE, cursor })}`, { action: 'Load older logs' });
      setEvents((old) => merge([...page.events].reverse(), old || []));
      setCursor(page.next_cursor);
      setAuto(false);
    } catch (e) { notifyError(e); }
  };

  const set = (name) => (e) => setFilters({ ...filters, [name]: e.currentTarget.value });
  const exportHref = (fmt) => `/api/logs/export${query({ ...params(applied), format: fmt })}`;
  const select = (name, label, options) => html`<label class="field">${label}
    <select value=${filters[name]} onChange=${set(name)}>
      <option value="">All</option>
      ${options.map((o) => html`<option value=${o}>${f.words(o)}${name === 'level' ? ' and above' : ''}</option>`)}
    </select></label>`;
  const text = (name, label, placeholder, type = 'text') => html`<label class="field">${label}
    <input type=${type} value=${filters[name]} placeholder=${placeholder} onInput=${set(name)} /></label>`;

  return html`<form class="toolbar" role="search" aria-label="Log filters" onSubmit=${(e) => e.preventDefault()}>
      ${select('category', 'Category', CATEGORIES)}
      ${select('level', 'Level', LEVELS)}
      ${text('symbol', 'Pair', 'BTCUSDT')}
      ${text('timeframe', 'Timeframe', '60')}
      ${text('event', 'Event type', 'order_outcome')}
      ${text('from', `From (${prefs.tz === 'utc' ? 'UTC' : 'local'})`, '', 'datetime-local')}
      ${text('to', `To (${prefs.tz === 'utc' ? 'UTC' : 'local'})`, '', 'datetime-local')}
      <label class="field grow">Search<input type="search" value=${filters.q} placeholder="Text in message or data"
        onInput=${set('q')} /></label>
      <button type="button" onClick=${() => setFilters(EMPTY)}>Clear filters</button>
    </form>
    <div class="toolbar">
      <label class="check"><input type="checkbox" checked=${auto} onChange=${(e) => setAuto(e.currentTarget.checked)} />
        Auto-scroll to the newest</label>
      <span class="muted grow" data-test="log-count">${events ? `${events.length} events shown` : ''}</span>
      ${cursor && html`<button class="small" onClick=${older}>Load older</button>`}
      <span class="actions" aria-label="Export the current filter">Export:
        ${['txt', 'csv', 'json'].map((fmt) => html`<a class="button small" href=${exportHref(fmt)} download=${`engine-logs.${fmt}`}>.${fmt}</a>`)}
      </span>
    </div>
    <div class="console" ref=${box} role="log" aria-live="off" aria-label="Event log" tabindex="0"
      onScroll=${(e) => { const el = e.currentTarget; if (auto && el.scrollHeight - el.scrollTop - el.clientHeight > 40) setAuto(false); }}>
      ${events === null && html`<p class="muted">Loading…</p>`}
      ${events && events.length === 0 && html`<p class="muted">No event matches these filters.</p>`}
      ${events && events.map((e) => html`<div class=${lineClass(e)} key=${e.id} data-level=${e.level} data-category=${e.category}>
        <span class="muted">${f.time(e.ts_ms)}</span><span class="lv">${e.level}</span>
        <span>${e.category}</span>
        <span class="m">${e.symbol ? html`<strong>${e.symbol}${e.timeframe ? ` ${f.tf(e.timeframe)}` : ''}</strong> ` : ''}${e.message}
          <span class="muted"> · ${e.event}${e.group_id ? ` · group ${e.group_id}` : ''}</span></span>
      </div>`)}
    </div>`;
}
