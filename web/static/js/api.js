// The API client: one place for fetch, the session and its CSRF token, and error answers.
// - The session cookie (HttpOnly) travels by itself; the CSRF token from the login / me answer
//   is kept in sessionStorage and sent as X-CSRF-Token on every state-changing call.
// - A 401 outside the login means the session ended: the user is dropped and the shell shows
//   the login with "session expired".
// - Errors are ApiError(status, code, message, field, action) so the UI can name the action and
//   the field (SPEC 11.6 {"error", "message", "details": {"field"}}).
const CSRF_KEY = 'engine.csrf';
const SAFE = new Set(['GET', 'HEAD']);
let user = null; // {username, role, csrf_token, expires_at}
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message, field, action, details = {}) {
    super(message);
    Object.assign(this, { status, code, field, action, details });
  }
}

export function currentUser() { return user; }
export function isAdmin() { return user?.role === 'admin'; }
export function onUserChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function setUser(next, flash = '') {
  user = next;
  if (next) sessionStorage.setItem(CSRF_KEY, next.csrf_token);
  else sessionStorage.removeItem(CSRF_KEY);
  for (const fn of listeners) fn(user, flash);
}

function expired() {
  if (user) setUser(null, 'Your session expired — log in again.');
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== '' && v != null) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

// ``raw``: a body sent as it is (a file upload, JSON with exact decimal numbers), with
// ``contentType``; ``body``: a value sent as JSON.
export async function request(method, path, { body, action, raw, contentType } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (raw !== undefined) headers['Content-Type'] = contentType || 'application/json';
  if (!SAFE.has(method)) headers['X-CSRF-Token'] = sessionStorage.getItem(CSRF_KEY) || '';
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'the engine cannot be reached (network error); try again', null, action);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (res.status === 401 && path !== '/api/auth/login') {
    expired();
    throw new ApiError(401, 'unauthorized', 'your session expired — log in again', null, action);
  }
  if (!res.ok) {
    const message = data?.message || `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, data?.error || `http_${res.status}`, message,
      data?.details?.field ?? null, action, data?.details || {});
  }
  return data;
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body: body ?? {} });
export const del = (path, opts) => request('DELETE', path, opts);

export async function login(username, password) {
  setUser(await request('POST', '/api/auth/login', { body: { username, password }, action: 'Log in' }));
}

export async function logout() {
  try { await post('/api/auth/logout', {}, { action: 'Log out' }); } catch { /* ends anyway */ }
  setUser(null, 'You are logged out.');
}

// On load: a still-valid session cookie logs the user straight in (and refreshes the token).
export async function restore() {
  try {
    setUser(await get('/api/auth/me'));
  } catch (e) {
    if (e.status !== 401) throw e;
  }
  return user;
}

// "Close group failed: … (field “x”)": every shown error names the action and the field.
export function errorText(e) {
  const what = e.action ? `${e.action} failed` : 'Request failed';
  const field = e.field ? ` (field “${e.field}”)` : '';
  return `${what}: ${e.message || e}${field}`;
}
