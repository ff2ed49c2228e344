// The confirmation dialog for consequential actions: confirm({...}) resolves to null when the
// user cancels, else to {option} (the optional checkbox, e.g. Run Now's "force").
// A native <dialog> (showModal): focus stays inside, Escape cancels.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';

let show = null;

export function confirm({ title, message, confirmLabel = 'Confirm', danger = false, option = null }) {
  return new Promise((resolve) => {
    if (!show) { resolve(null); return; }
    show({ title, message, confirmLabel, danger, option, resolve });
  });
}

export function ConfirmHost() {
  const [req, setReq] = useState(null);
  const [checked, setChecked] = useState(false);
  const ref = useRef(null);
  useEffect(() => { show = (r) => { setChecked(false); setReq(r); }; return () => { show = null; }; }, []);
  useEffect(() => {
    const d = ref.current;
    if (req && d && !d.open) d.showModal();
  }, [req]);
  const finish = (ok) => {
    const r = req;
    setReq(null);
    ref.current?.open && ref.current.close();
    r?.resolve(ok ? { option: checked } : null);
  };
  if (!req) return null;
  return html`<dialog ref=${ref} aria-labelledby="confirm-title" onCancel=${(e) => { e.preventDefault(); finish(false); }}>
    <h2 id="confirm-title">${req.title}</h2>
    <p>${req.message}</p>
    ${req.option && html`<label class="check"><input type="checkbox" checked=${checked}
      onChange=${(e) => setChecked(e.currentTarget.checked)} /> ${req.option}</label>`}
    <div class="actions">
      <button onClick=${() => finish(false)}>Cancel</button>
      <button class=${req.danger ? 'danger primary' : 'primary'} onClick=${() => finish(true)}>${req.confirmLabel}</button>
    </div>
  </dialog>`;
}
