// Display formatting: the ONE place numbers and times are shaped for people.
// The API already rounds every number it sends (engine/display.py: prices to the tick,
// quantities to the step, quote amounts to the quote asset's precision, percentages to 2
// decimals). Here they are only dressed — thousands separators, units, signs — never rounded
// again and never used in arithmetic.
import { prefs } from './prefs.js';

const QUOTES = ['USDT', 'USDC', 'FDUSD', 'BUSD', 'TUSD', 'DAI', 'USD', 'EUR', 'TRY', 'BTC', 'ETH', 'BNB'];
export const quoteOf = (symbol) => QUOTES.find((q) => String(symbol || '').endsWith(q)) || 'USD';

function group(text) {
  const s = String(text);
  if (!/^[+-]?\d+(\.\d+)?$/.test(s)) return s;
  const [int, frac] = s.split('.');
  const sign = int.startsWith('-') ? '-' : int.startsWith('+') ? '+' : '';
  const digits = int.replace(/^[+-]/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return sign + digits + (frac !== undefined ? `.${frac}` : '');
}

const blank = (v) => v === null || v === undefined || v === '';
const positive = (v) => !String(v).startsWith('-') && /[1-9]/.test(String(v));

export const usd = (v) => (blank(v) ? '—' : group(v));
export const usdUnit = (v) => (blank(v) ? '—' : `${group(v)} USD`);
export const pct = (v) => (blank(v) ? '—' : `${v} %`);
export const signedPct = (v) => (blank(v) ? '—' : `${positive(v) ? '+' : ''}${v} %`);
export const qty = (v) => (blank(v) ? '—' : String(v));
export const count = (n) => (blank(n) ? '—' : group(String(n)));
export const price = (v) => (blank(v) ? '—' : group(v));

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
