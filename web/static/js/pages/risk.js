import { html } from '../html.js';
export default function P() { return html`<p>Coming soon</p>`; }
