// Dashboard parts fed by the live `status` topic (GET /api/status): the webhook warning banner,
// the price feed (where prices come from, how old each is) and the gateway's order line. Each
// renders nothing while its field is absent, so an engine without one still shows the rest.
import { html } from './html.js';
import { Badge, Card, Progress } from './ui.js';
import { CopyButton } from './copy.js';
import * as f from './format.js';

const FEEDS = { live: 'live exchange prices', api: 'prices set over the API', csv: 'CSV replay',
  exchange: 'exchange stream' };
const FEED_TONES = { connected: 'good', polling: 'warn', connecting: 'warn', reconnecting: 'warn',
  starting: 'info', manual: 'info', replaying: 'info' };
const SHOWN_SYMBOLS = 12;

// `code` spans of an engine message (it quotes commands in backticks) as <code>.
const withCode = (text) => String(text).split('`').map((part, i) => (i % 2 ? html`<code>${part}</code>` : part));

export function WebhookWarning({ warning }) {
  if (!warning) return null;
  const text = warning.command ? warning.message.replace(`\`${warning.command}\``, 'the command below') : warning.message;
  return html`<div class=${`warn-banner${warning.refused ? ' refused' : ''}`} role="alert" data-test="webhook-warning">
    <p>${withCode(text)}</p>
    ${warning.command && html`<div class="command">
      <code data-test="webhook-command">${warning.command}</code>
      <${CopyButton} text=${warning.command} what="command" />
      <span class="muted">or set the secret under <a href="/settings">Settings</a></span></div>`}
  </div>`;
}

// Where the paper exchange's market rules come from: file, exchange, fetch age (or the error).
export function MarketsSource({ m }) {
  if (!m) return null;
  if (m.error) return html`<span class="neg">${m.error}</span>`;
  const age = m.age_ms == null ? 'fetch time unknown' : `fetched ${f.duration(m.age_ms)} ago`;
  return html`<span data-test="markets-source"><span class="mono">${m.file}</span>
    <span class="muted"> · ${m.exchange || 'unknown exchange'} · ${age}</span></span>`;
}

function PriceAges({ feed }) {
  const stale = new Set(feed.stale || []);
  const rows = Object.entries(feed.symbols || {})
    .sort(([a], [b]) => (stale.has(b) - stale.has(a)) || a.localeCompare(b));
  if (!rows.length) return html`<span class="muted" data-test="no-prices">waiting for prices</span>`;
  const more = rows.length - SHOWN_SYMBOLS;
  return html`<ul class="chips" data-test="price-ages">
    ${rows.slice(0, SHOWN_SYMBOLS).map(([symbol, p]) => html`
      <li key=${symbol} class=${stale.has(symbol) ? 'stale' : ''} data-symbol=${symbol}
        title=${p.price == null ? 'no price yet' : `last price ${f.price(p.price)}`}>
        ${symbol} <span class="num">${p.price == null || p.age_ms == null ? 'no price' : f.duration(p.age_ms)}</span></li>`)}
    ${more > 0 && html`<li class="muted">+${more} more</li>`}
  </ul>`;
}

export function PriceFeed({ feed }) {
  if (!feed) return null;
  const stale = feed.stale || [];
  return html`<${Card} title="Price feed" cls="half"><dl class="facts" data-test="price-feed">
    <dt>Feed</dt><dd>${FEEDS[feed.feed] || feed.feed} <span class="muted">(${feed.feed}, ${feed.exchange})</span>
      ${feed.state && html` <${Badge} value=${feed.state} tone=${FEED_TONES[feed.state]} />`}
      ${feed.last_error && html` <span class="neg">${feed.last_error}</span>`}</dd>
    <dt>Price age</dt><dd><${PriceAges} feed=${feed} />
      ${feed.stale_after_ms != null && html`<div class="muted">stale after ${f.duration(feed.stale_after_ms)}${stale.length
        ? html` · <span class="neg" data-test="stale">${stale.length} stale</span>` : ''}</div>`}</dd>
    ${feed.markets && html`<dt>Markets</dt><dd><${MarketsSource} m=${feed.markets} /></dd>`}
  </dl></${Card}>`;
}

// The gateway's waiting line per order class and the exchange rate budget used per limit.
export function OrderLine({ line }) {
  if (!line || !Array.isArray(line.classes)) return null;
  const late = (ms) => ms != null && line.alert_after_ms != null && ms >= line.alert_after_ms;
  const budget = line.budget || [];
  return html`<${Card} title="Order line" cls="half"><dl class="facts" data-test="order-line">
    ${line.classes.map((c) => html`<dt key=${`n${c.class}`}>${f.words(c.name)}</dt>
      <dd key=${`v${c.class}`} data-class=${c.name}>${f.count(c.count)} waiting${c.oldest_age_ms != null
        ? html` · <span class=${late(c.oldest_age_ms) ? 'neg' : ''}>oldest ${f.duration(c.oldest_age_ms)}</span>` : ''}</dd>`)}
    <dt>Sent</dt><dd>${f.count(line.sent)} · ${f.count(line.in_flight)} in flight · ${f.count(line.dropped)} dropped
      ${line.priority === false && html` <span class="muted">· priority off</span>`}</dd>
    <dt>Rate budget</dt><dd>${budget.length ? budget.map((b) => html`<div key=${`${b.kind}${b.window_s}`}>
      <${Progress} value=${b.limit ? (b.used / b.limit) * 100 : 0} label=${`${b.kind} budget used`}
        text=${`${f.count(b.used)} / ${f.count(b.limit)} ${f.words(b.kind).toLowerCase()} per ${f.duration(b.window_s * 1000)}`} /></div>`)
      : html`<span class="muted">not limited here</span>`}</dd>
  </dl></${Card}>`;
}
