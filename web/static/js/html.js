// htm bound to Preact: html`<div class=${cls}>…</div>` builds Preact elements without a build step.
import { h, Fragment, render, createContext } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
export { h, Fragment, render, createContext };
