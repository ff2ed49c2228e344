// The client router (history API): /positions, /groups/12, … The server answers the app shell
// for every such path, so reloading or sharing a link works. Same-origin links to client routes
// are followed here without a page load.
import { useEffect, useState } from 'preact/hooks';
import { PAGES } from './pages/index.js';

const compiled = PAGES.map((page) => {
  const names = [];
  const pattern = page.path.replace(/:([a-z_]+)/gi, (_, name) => { names.push(name); return '([^/]+)'; });
  return { page, names, re: new RegExp(`^${pattern}/?$`) };
});
const listeners = new Set();
const SERVER_PATHS = /^\/(api|static|webhook|healthz)(\/|$)/;

export function match(pathname) {
  for (const { page, names, re } of compiled) {
    const m = re.exec(pathname);
    if (m) return { page, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])])) };
  }
  return null;
}

export function navigate(to, { replace = false } = {}) {
  if (to === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', to);
  for (const fn of listeners) fn();
  window.scrollTo(0, 0);
}

export function useLocation() {
  const [loc, setLoc] = useState(location.pathname + location.search);
  useEffect(() => {
    const update = () => setLoc(location.pathname + location.search);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => { listeners.delete(update); window.removeEventListener('popstate', update); };
  }, []);
  return loc;
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest?.('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
  if (SERVER_PATHS.test(a.pathname)) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
});
