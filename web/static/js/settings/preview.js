// The Live Preview (SPEC 11.5 F): what the edited settings would do before they are saved —
// the validation result, the difference from the running configuration, and the ladder they
// place for a chosen symbol at its current price and a chosen notional (computed by the engine
// with its own ladder and precision rules: POST /api/config/preview/ladder).
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { request } from '../api.js';
import * as f from '../format.js';
import { Num, encode, text } from './draft.js';

const show = (v) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));

export function Validation({ check, pending }) {
  if (pending) return html`<p class="muted" role="status" data-test="validation">Checking…</p>`;
  if (!check) return null;
  if (check.valid) return html`<p class="pos" role="status" data-test="validation">Valid: every key passes the engine's checks.</p>`;
  return html`<div role="alert" data-test="validation"><p class="neg">${check.problems.length} problem(s) — nothing can be saved until they are fixed:</p>
    <ul class="field-errors">${check.problems.map((p) => html`<li key=${p.path + p.message}>
      <span class="mono">${p.path || '(file)'}</span>: ${p.message}</li>`)}</ul></div>`;
}

export function RunningDiff({ check }) {
  const rows = check?.diff_running || [];
  if (!rows.length) return html`<p class="muted" data-test="diff">Same as the running configuration.</p>`;
  const restart = new Set(check.restart_required || []);
  const refused = new Set(check.refused_while_open || []);
  return html`<div class="table-wrap"><table class="data" data-test="diff" aria-label="Difference from the running configuration">
    <thead><tr><th>Key</th><th>Running</th><th>Edited</th><th>Takes effect</th></tr></thead>
    <tbody>${rows.map((d) => html`<tr key=${d.key}><td class="mono">${d.key}</td>
      <td class="mono wrap">${show(d.old)}</td><td class="mono wrap">${show(d.new)}</td>
      <td>${restart.has(d.key) ? 'after a restart' : refused.has(d.key) ? 'only while nothing is open' : 'on Apply'}</td></tr>`)}
    </tbody></table></div>`;
}

function LegTable({ plan }) {
  const sym = plan.symbol;
  return html`<div class="table-wrap"><table class="data" data-test="ladder-preview" aria-label="Ladder preview">
    <thead><tr><th>Leg</th><th>Type</th><th class="num">Gap %</th><th class="num">Weight %</th>
      <th class="num">Price</th><th class="num">Qty</th><th class="num">Notional</th>
      <th class="num">TP price</th><th>Filters</th></tr></thead>
    <tbody>${plan.legs.map((leg) => html`<tr key=${leg.index} data-leg=${leg.index} class=${leg.refused ? 'invalid' : ''}>
      <td>${leg.leg}</td><td>${leg.order_type}</td>
      <td class="num">${f.pct(leg.gap_percent)}</td><td class="num">${f.pct(leg.weight_percent)}</td>
      <td class="num">${f.price(leg.price, sym)}</td><td class="num">${f.qty(leg.qty)}</td>
      <td class="num">${f.usd(leg.notional)}</td>
      <td class="num">${leg.tp_price ? f.price(leg.tp_price, sym) : html`<span class="muted">aggregate</span>`}</td>
      <td class="wrap">${leg.refused
        ? html`<span class="neg">refused: ${leg.problems.map((p) => `${p.rule} — ${p.message}`).join('; ')}</span>`
        : html`<span class="pos">OK</span>`}</td></tr>`)}
    </tbody></table></div>`;
}

export function LadderPreview({ changes, enabled, locked }) {
  const [q, setQ] = useState({ symbol: 'BTCUSDT', notional: '1000', side: 'long', timeframe: '60', pyramid: '0', price: '' });
  const [plan, setPlan] = useState(null);
  const [error, setError] = useState(null);
  const body = encode({
    changes, symbol: q.symbol, notional: new Num(q.notional), side: q.side,
    timeframe: new Num(q.timeframe), pyramid: new Num(q.pyramid), ...(q.price ? { price: new Num(q.price) } : {}),
  });
  useEffect(() => {
    if (!enabled || !q.symbol.trim()) return undefined;
    const timer = setTimeout(async () => {
      try {
        setPlan(await request('POST', '/api/config/preview/ladder', { raw: body, action: 'Ladder preview' }));
        setError(null);
      } catch (e) {
        setPlan(null);
        setError(e.details?.problems ? e.details.problems.map((p) => `${p.path}: ${p.message}`).join('; ') : e.message);
      }
    }, 350);
    return () => clearTimeout(timer);
  }, [body, enabled]);
  const input = (name, label, attrs = {}, cls = 'field') => html`<label class=${cls}>${label}
    <input type="text" value=${q[name]} aria-label=${`Preview ${label}`} disabled=${locked} ...${attrs}
      onInput=${(e) => setQ({ ...q, [name]: e.currentTarget.value })} /></label>`;
  return html`<div class="ladder-preview">
    <div class="toolbar">
      ${input('symbol', 'Symbol', {}, 'field grow')}
      ${input('notional', 'Notional (quote)', { inputmode: 'decimal' })}
      <label class="field">Side<select aria-label="Preview side" value=${q.side} disabled=${locked}
        onChange=${(e) => setQ({ ...q, side: e.currentTarget.value })}>
        <option value="long">long</option><option value="short">short</option></select></label>
      ${input('timeframe', 'Timeframe (min)', { inputmode: 'numeric', size: 5 })}
      ${input('pyramid', 'Pyramid', { inputmode: 'numeric', size: 3 })}
      ${input('price', 'Price (blank: current)', { inputmode: 'decimal' })}
    </div>
    ${!enabled && html`<p class="muted">${locked ? 'The ladder preview is for admins (it runs the edited settings).'
      : 'Fix the problems above to see the ladder.'}</p>`}
    ${enabled && error && html`<p class="neg" role="alert">${error}</p>`}
    ${enabled && plan && !plan.ok && html`<p class="neg" role="alert" data-test="ladder-preview-reason">${plan.reason}</p>`}
    ${enabled && plan?.ok && html`
      <p class="muted">${plan.symbol} at ${f.price(plan.price, plan.symbol)}
        ${plan.current_price ? '(current price)' : '(entered price)'} · ${text(plan.legs.length)} legs ·
        deployed ${f.usd(plan.deployed_notional)} of ${f.usd(plan.notional)} · TP mode ${plan.tp_mode}
        ${plan.aggregate_tp_price && html` · aggregate TP ${f.price(plan.aggregate_tp_price, plan.symbol)}`}
        · rules: ${plan.rules_source}</p>
      <${LegTable} plan=${plan} />
      <p class=${plan.would_send ? 'pos' : 'neg'}>${plan.would_send ? 'Every leg passes the exchange filters.'
        : 'A signal with these settings would be rejected: the marked legs fail the exchange filters.'}</p>`}
  </div>`;
}
