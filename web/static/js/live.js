// Live updates: ONE /api/ws socket per tab, the newest payload per topic, coalesced renders.
// The server sends a snapshot of every topic on connect, then changed topics at most every
// ui.realtime_update_ms; a message carries the topic's whole payload (kind snapshot / delta),
// so keeping the newest is enough — except a "patch" (the groups list), which carries only the
// rows and fields that changed and is applied to the newest payload (applyPatch; docs/api.md).
// Subscribers of a topic are called at most once per animation frame.
// When the socket drops: the state turns "paused" (the shell shows a banner), the REST endpoints
// of the watched topics are polled at the same interval, and the socket is retried with a
// backoff; the first message on a new socket ends the polling.
import { useEffect, useState } from 'preact/hooks';
import { get } from './api.js';

export const REST = {
  status: '/api/status', dashboard: '/api/dashboard', groups: '/api/groups', queue: '/api/queue',
  risk: '/api/risk', logs: '/api/logs', alerts: '/api/alerts', config: '/api/config',
};
const latest = {};
const subscribers = {};
const stateListeners = new Set();
const dirty = new Set();
let socket = null;
let state = 'off'; // off | connecting | live | paused
let intervalMs = 500;
let retryMs = 1000;
let retryTimer = null;
let pollTimer = null;
let flushPending = false;
export const stats = { messages: 0, bytes: 0, since: performance.now() };

function setState(next) {
  if (state === next) return;
  state = next;
  for (const fn of stateListeners) fn(state);
}

function flush() {
  flushPending = false;
  const topics = [...dirty];
  dirty.clear();
  for (const topic of topics) for (const fn of subscribers[topic] || []) fn(latest[topic]);
}

function scheduleFlush() {
  if (flushPending) return;
  flushPending = true;
  if (document.hidden) setTimeout(flush, 100); // no animation frames in a hidden tab
  else requestAnimationFrame(flush);
}

export function put(topic, data) {
  latest[topic] = data;
  if (topic === 'config') {
    const ms = data?.running?.ui?.realtime_update_ms;
    if (Number.isFinite(ms) && ms > 0) intervalMs = ms;
  }
  dirty.add(topic);
  scheduleFlush();
}

// A row's key, as the server keys it (actors/read/patch.py) and the groups table shows it.
export function rowKey(r) { return r.id === null || r.id === undefined ? `q${r.queue_id}` : `g${r.id}`; }

// The payload a patch turns `payload` into; null if there is nothing to apply it to.
export function applyPatch(payload, patch) {
  const list = payload?.[patch.list];
  if (!Array.isArray(list)) return null;
  const rows = new Map(list.map((r) => [rowKey(r), r]));
  for (const key of patch.removed) rows.delete(key);
  for (const { fields, rows: changed } of patch.changes) {
    for (const [key, values] of Object.entries(changed)) {
      const row = { ...rows.get(key) }; // a new object: the table sees the row changed
      fields.forEach((field, i) => { row[field] = values[i]; });
      rows.set(key, row);
    }
  }
  const order = patch.order || list.map(rowKey).filter((key) => rows.has(key));
  return { ...payload, [patch.list]: order.map((key) => rows.get(key)) };
}

function connect() {
  clearTimeout(retryTimer);
  if (state === 'off') return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`;
  let sock;
  try { sock = new WebSocket(url); } catch { dropped(); return; }
  socket = sock;
  let seen = false;
  sock.onmessage = (ev) => {
    stats.messages += 1;
    stats.bytes += ev.data.length;
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    if (!seen) { seen = true; retryMs = 1000; stopPolling(); setState('live'); }
    if (m.kind !== 'patch') { put(m.topic, m.data); return; }
    const next = applyPatch(latest[m.topic], m.data);
    if (next) put(m.topic, next); else pollTopic(m.topic); // no base to patch: ask for it whole
  };
  sock.onclose = () => {
    if (socket !== sock) return;
    socket = null;
    dropped();
  };
}

function dropped() {
  if (state === 'off') return;
  setState('paused');
  startPolling();
  retryTimer = setTimeout(connect, retryMs);
  retryMs = Math.min(retryMs * 2, 5000);
}

// --- REST polling while the socket is down ----------------------------------------------------
const inFlight = new Set();

async function pollTopic(topic) {
  if (inFlight.has(topic)) return;
  inFlight.add(topic);
  try { put(topic, await get(REST[topic])); } catch { /* 401 is handled by api.js */ }
  finally { inFlight.delete(topic); }
}

function pollWatched() {
  for (const topic of Object.keys(subscribers)) if (subscribers[topic].size) pollTopic(topic);
}

function startPolling() {
  if (pollTimer) return;
  pollWatched();
  pollTimer = setInterval(pollWatched, Math.max(intervalMs, 250));
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

// --- lifecycle --------------------------------------------------------------------------------
export function start() {
  if (state !== 'off') return;
  setState('connecting');
  connect();
}

export function stop() {
  setState('off');
  clearTimeout(retryTimer);
  stopPolling();
  const sock = socket;
  socket = null;
  if (sock) sock.close();
  for (const k of Object.keys(latest)) delete latest[k];
}

export function liveState() { return state; }
export function current(topic) { return latest[topic]; }
export function refreshInterval() { return intervalMs; }

export function subscribe(topic, fn) {
  (subscribers[topic] ||= new Set()).add(fn);
  if (latest[topic] === undefined && state !== 'live' && state !== 'connecting') pollTopic(topic);
  return () => subscribers[topic].delete(fn);
}

// The newest payload of a topic (undefined until the first one arrives).
export function useTopic(topic) {
  const [data, setData] = useState(latest[topic]);
  useEffect(() => {
    setData(latest[topic]);
    return subscribe(topic, setData);
  }, [topic]);
  return data;
}

export function useLiveState() {
  const [s, setS] = useState(state);
  useEffect(() => {
    stateListeners.add(setS);
    setS(state);
    return () => stateListeners.delete(setS);
  }, []);
  return s;
}
