// Entry point: restore the session (if its cookie is still valid), then render the shell.
import { html, render } from './html.js';
import { restore } from './api.js';
import { App } from './app.js';

const root = document.getElementById('app');
restore()
  .catch(() => null) // engine unreachable: the login form says so when used
  .finally(() => { root.textContent = ''; render(html`<${App} />`, root); });
