// Copy text to the clipboard with a notice saying so; used wherever the console shows a value
// to paste elsewhere (the TradingView setup, the webhook warning's command).
import { html } from './html.js';
import { notify } from './notices.js';

export async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // no clipboard API outside a secure context (http on another host): select and copy
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    if (!ok) { notify('error', `Copy ${what}: select the text and copy it by hand`); return; }
  }
  notify('ok', `${what} copied`);
}

export function CopyButton({ text, what }) {
  return html`<button class="small" onClick=${() => copyText(text, what)} aria-label=${`Copy the ${what}`}
    data-test=${`copy-${what.replace(/\s+/g, '-')}`}>Copy</button>`;
}
