// Dashboard users (admin only, SPEC 12.2): list, add with a role, change a role or a password,
// delete. The engine refuses to delete or demote the last admin; changing one's own password
// asks for the current one.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { del, get, post, request, currentUser } from '../api.js';
import { notifyError } from '../notices.js';
import { useAction } from '../ui.js';
import * as f from '../format.js';

function PasswordForm({ user, onDone }) {
  const own = user.username === currentUser()?.username;
  const [pw, setPw] = useState({ password: '', old_password: '' });
  const [save, busy] = useAction(`Change the password of ${user.username}`, () => request('PUT',
    `/api/users/${encodeURIComponent(user.username)}`, { body: own ? pw : { password: pw.password } }),
  { done: `Password of ${user.username} changed${own ? ' — log in again' : ''}` });
  return html`<form class="inline-form" onSubmit=${async (e) => { e.preventDefault(); if (await save()) onDone(); }}>
    ${own && html`<input type="password" autocomplete="current-password" placeholder="current password"
      aria-label="Your current password" value=${pw.old_password}
      onInput=${(e) => setPw({ ...pw, old_password: e.currentTarget.value })} />`}
    <input type="password" autocomplete="new-password" placeholder="new password (8+ characters)"
      aria-label=${`New password for ${user.username}`} value=${pw.password}
      onInput=${(e) => setPw({ ...pw, password: e.currentTarget.value })} />
    <button type="submit" class="small" disabled=${busy || !pw.password}>Save</button>
    <button type="button" class="small" onClick=${onDone}>Cancel</button>
  </form>`;
}

function AddUser({ onDone }) {
  const [form, setForm] = useState({ username: '', password: '', role: 'operator' });
  const [add, busy] = useAction('Add user', () => post('/api/users', form), { done: `User ${form.username} added` });
  return html`<form class="toolbar" onSubmit=${async (e) => { e.preventDefault(); if (await add()) { setForm({ ...form, username: '', password: '' }); onDone(); } }}>
    <label class="field">User name<input value=${form.username} autocomplete="off"
      onInput=${(e) => setForm({ ...form, username: e.currentTarget.value })} /></label>
    <label class="field">Password<input type="password" autocomplete="new-password" value=${form.password}
      onInput=${(e) => setForm({ ...form, password: e.currentTarget.value })} /></label>
    <label class="field">Role<select value=${form.role} onChange=${(e) => setForm({ ...form, role: e.currentTarget.value })}>
      <option value="operator">operator (read-only)</option><option value="admin">admin</option></select></label>
    <button type="submit" disabled=${busy || !form.username || !form.password}>Add user</button>
  </form>`;
}

export function Users() {
  const [rows, setRows] = useState(null);
  const [editing, setEditing] = useState(null);
  const load = () => get('/api/users').then((r) => setRows(r.users), notifyError);
  useEffect(() => { load(); }, []);
  const [setRole] = useAction('Change role', (name, role) => request('PUT', `/api/users/${encodeURIComponent(name)}`,
    { body: { role } }), { done: (_, name, role) => `${name} is now ${role}` });
  const [remove] = useAction('Delete user', (name) => del(`/api/users/${encodeURIComponent(name)}`), {
    done: (_, name) => `User ${name} deleted`,
    confirmWith: (name) => ({ title: `Delete user ${name}?`, message: 'Their sessions end at once.', confirmLabel: 'Delete', danger: true }) });
  if (!rows) return html`<p class="muted">Loading users…</p>`;
  return html`<div data-test="users">
    <div class="table-wrap"><table class="data" aria-label="Users">
      <thead><tr><th>User</th><th>Role</th><th>Last login</th><th></th></tr></thead>
      <tbody>${rows.map((u) => html`<tr key=${u.username}>
        <td>${u.username}${u.username === currentUser()?.username && html` <span class="muted">(you)</span>`}</td>
        <td><select aria-label=${`Role of ${u.username}`} value=${u.role}
          onChange=${async (e) => { await setRole(u.username, e.currentTarget.value); load(); }}>
          <option value="admin">admin</option><option value="operator">operator</option></select></td>
        <td>${u.last_login_at ? f.time(u.last_login_at) : 'never'}</td>
        <td>${editing === u.username
          ? html`<${PasswordForm} user=${u} onDone=${() => { setEditing(null); load(); }} />`
          : html`<div class="actions"><button class="small" onClick=${() => setEditing(u.username)}>Change password</button>
            <button class="small danger" onClick=${async () => { await remove(u.username); load(); }}>Delete</button></div>`}</td>
      </tr>`)}</tbody></table></div>
    <h3>Add a user</h3>
    <${AddUser} onDone=${load} />
  </div>`;
}
