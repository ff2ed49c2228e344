// The login form; `flash` explains why it is shown (logged out, session expired).
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { login, errorText } from './api.js';

export function Login({ flash }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (!username || !password) { setError('Enter your user name and password.'); return; }
    setBusy(true);
    setError('');
    try {
      await login(username, password);
    } catch (err) {
      setError(err.status === 401 ? 'Wrong user name or password.' : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <h1>Execution Engine</h1>
    <section class="card">
      <form onSubmit=${submit} aria-label="Log in">
        ${flash && html`<p class="flash" role="status">${flash}</p>`}
        <label class="field">User name
          <input name="username" autocomplete="username" value=${username} autofocus
            onInput=${(e) => setUsername(e.currentTarget.value)} /></label>
        <label class="field">Password
          <input name="password" type="password" autocomplete="current-password" value=${password}
            onInput=${(e) => setPassword(e.currentTarget.value)} /></label>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button class="primary" type="submit" disabled=${busy}>${busy ? 'Logging in…' : 'Log in'}</button>
      </form>
    </section>
  </main>`;
}
