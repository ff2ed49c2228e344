// The Settings page's draft: values as the API sends them (decimals as strings), edits as
// Num (the text typed into a number field), the changes against the file, and their JSON.
//
// Numbers go to the engine as bare JSON numbers written from the typed TEXT (never through a
// JS float: 0.1 + 0.2 must not become 0.30000000000000004); text that is not a plain number is
// sent as a string, so the engine answers with its own message ("expected number, got str").

export class Num {
  constructor(text) { this.text = String(text ?? '').trim(); }
  toString() { return this.text; }
}

const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

export const num = (v) => (v instanceof Num ? v : new Num(v));
export const text = (v) => (v === null || v === undefined ? '' : String(v));

// JSON text of a value, Num written as a bare number when it is one.
export function encode(value) {
  if (value instanceof Num) return PLAIN_NUMBER.test(value.text) ? value.text : JSON.stringify(value.text);
  if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${encode(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

// "1.50" and Num("1.5") are the same number; anything else compares as JSON.
function canon(v) {
  const s = v instanceof Num ? v.text : v;
  if (typeof s === 'string' && PLAIN_NUMBER.test(s)) {
    return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
  }
  if (typeof s === 'number') return String(s);
  if (Array.isArray(s)) return s.map(canon);
  if (s && typeof s === 'object') return Object.fromEntries(Object.entries(s).map(([k, x]) => [k, canon(x)]));
  return s;
}
export const same = (a, b) => JSON.stringify(canon(a)) === JSON.stringify(canon(b));

// A top-level key's value ("execution_pool.max_open_groups"; section keys are bare words).
export function getPath(obj, path) {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

export function setPath(obj, path, value) {
  const keys = path.split('.');
  const out = { ...obj };
  let node = out;
  for (const k of keys.slice(0, -1)) {
    node[k] = { ...(node[k] || {}) };
    node = node[k];
  }
  node[keys[keys.length - 1]] = value;
  return out;
}

// {path: draft value} for every top-level key whose value differs from the file's.
export function changesOf(fields, base, draft) {
  const out = {};
  for (const f of fields) {
    if (f.parent || f.secret) continue;
    const v = getPath(draft, f.path);
    if (!same(v, getPath(base, f.path))) out[f.path] = v;
  }
  return out;
}

// The problems about `path` or anything inside it (a ladder's legs, a table's entries).
export function problemsAt(problems, path) {
  return (problems || []).filter((p) => p.path === path || p.path.startsWith(`${path}.`)
    || p.path.startsWith(`${path}[`));
}

// Exact sum of decimal texts (display only: the engine checks the ladder itself).
export function decimalSum(values) {
  let scale = 0;
  const parts = [];
  for (const v of values) {
    const s = text(v instanceof Num ? v.text : v);
    if (!PLAIN_NUMBER.test(s)) return null;
    const [int, frac = ''] = s.replace('-', '').split('.');
    parts.push({ neg: s.startsWith('-'), int, frac });
    scale = Math.max(scale, frac.length);
  }
  let total = 0n;
  for (const { neg, int, frac } of parts) {
    const n = BigInt(int + frac.padEnd(scale, '0'));
    total += neg ? -n : n;
  }
  const neg = total < 0n;
  const digits = (neg ? -total : total).toString().padStart(scale + 1, '0');
  const whole = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return (neg ? '-' : '') + (scale ? whole.replace(/0+$/, '').replace(/\.$/, '') : whole);
}
