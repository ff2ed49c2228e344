// Display formatting, the ONE place numbers and times are shaped for people (SPEC 11.1).
// The API sends decimals as strings. One rule per kind of number: USD and percentages 2
// decimals, prices to the symbol's tick, ROUND_HALF_UP — done on the decimal TEXT, never through
// floating point. Nothing formatted here is sent back to the engine or used in arithmetic.
import { prefs } from './prefs.js';

const ticks = new Map(); // symbol -> decimals of its tick size (filled from /api/precision)
const quotes = new Map(); // symbol -> quote asset

export function setTicks(symbols) {
  for (const s of symbols || []) {
    ticks.set(s.symbol, decimalsOf(s.tick_size));
    if (s.quote) quotes.set(s.symbol, s.quote);
  }
}
export function knowsTick(symbol) { return ticks.has(symbol); }
export const quoteOf = (symbol) => quotes.get(symbol) || 'USD';

export function decimalsOf(text) {
  const s = String(text ?? '');
  const dot = s.indexOf('.');
  if (dot < 0) return 0;
  return s.slice(dot + 1).replace(/0+$/, '').length;
}

// "12.345", 2 -> "12.35"; "-0.005", 2 -> "-0.01" (half away from zero, as ROUND_HALF_UP).
export function roundText(text, dp) {
  let s = String(text).trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(s)) return s;
  const neg = s.startsWith('-');
  s = s.replace(/^[+-]/, '');
  let [int, frac = ''] = s.split('.');
  int = int || '0';
  if (frac.length <= dp) {
    frac = frac.padEnd(dp, '0');
  } else {
    const up = frac.charCodeAt(dp) >= 53; // '5'
    let digits = (int + frac.slice(0, dp)).split('').map(Number);
    if (up) {
      let i = digits.length - 1;
      while (i >= 0 && digits[i] === 9) { digits[i] = 0; i -= 1; }
      if (i < 0) digits.unshift(1); else digits[i] += 1;
    }
    const all = digits.join('');
    int = all.slice(0, all.length - dp) || '0';
    frac = dp ? all.slice(all.length - dp) : '';
  }
  int = int.replace(/^0+(?=\d)/, '');
  const out = dp ? `${int}.${frac}` : int;
  return neg && /[1-9]/.test(out) ? `-${out}` : out;
}

function group(text) {
  const [int, frac] = text.split('.');
  const sign = int.startsWith('-') ? '-' : '';
  const digits = int.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return sign + digits + (frac !== undefined ? `.${frac}` : '');
}

const blank = (v) => v === null || v === undefined || v === '';

export const usd = (v) => (blank(v) ? '—' : group(roundText(v, 2)));
export const usdUnit = (v) => (blank(v) ? '—' : `${usd(v)} USD`);
export const pct = (v) => (blank(v) ? '—' : `${roundText(v, 2)} %`);
export const signedPct = (v) => (blank(v) ? '—' : `${Number(v) > 0 ? '+' : ''}${roundText(v, 2)} %`);
export const wholePct = (v) => (blank(v) ? '—' : `${v} %`); // already whole (progress to TP)
export const qty = (v) => (blank(v) ? '—' : String(v));
export const count = (n) => (blank(n) ? '—' : group(String(n)));

// A price on its symbol's tick; an unknown tick shows at most 8 decimals, trailing zeros cut.
export function price(v, symbol) {
  if (blank(v)) return '—';
  if (ticks.has(symbol)) return group(roundText(v, ticks.get(symbol)));
  const t = roundText(v, 8);
  return group(t.includes('.') ? t.replace(/\.?0+$/, '') : t);
}

// 'pos' / 'neg' / '' for green and red (from the sign of the text).
export function tone(v) {
  if (blank(v)) return '';
  const s = String(v).trim();
  if (s.startsWith('-') && /[1-9]/.test(s)) return 'neg';
  return /[1-9]/.test(s) ? 'pos' : '';
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// A UTC-millisecond time in UTC or the browser's zone (the user's toggle).
export function time(ms, { seconds = true } = {}) {
  if (blank(ms)) return '—';
  const d = new Date(Number(ms));
  const utc = prefs.tz === 'utc';
  const parts = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  const [y, mo, da, h, mi, s] = parts;
  return `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}${seconds ? `:${pad(s)}` : ''}${utc ? ' UTC' : ''}`;
}

export function duration(ms) {
  if (blank(ms)) return '—';
  const total = Math.max(0, Math.round(Number(ms) / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${pad(m)} min`;
  if (m) return `${m} min`;
  return `${total % 60} s`;
}

export const ago = (ms, now = Date.now()) => (blank(ms) ? '—' : `${duration(now - Number(ms))} ago`);

// Timeframe minutes as traders write them: 15 -> "15m", 60 -> "1h", 1440 -> "1D".
export function tf(minutes) {
  const m = Number(minutes);
  if (!Number.isFinite(m)) return String(minutes ?? '');
  if (m % 10080 === 0) return `${m / 10080}W`;
  if (m % 1440 === 0) return `${m / 1440}D`;
  if (m % 60 === 0) return `${m / 60}h`;
  return `${m}m`;
}

export const pair = (row) => `${row.symbol} ${tf(row.timeframe)}`;

// 'partially_filled' -> 'Partially filled'
export function words(code) {
  if (blank(code)) return '—';
  const s = String(code).replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}
