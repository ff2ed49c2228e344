// Per-browser display preferences: theme, font size, UTC/local times. Defaults come from the
// engine's ui.* settings (the config topic); a user's own choice is kept in localStorage.
import { useEffect, useState } from 'preact/hooks';

const KEY = 'engine.prefs';
const listeners = new Set();
let defaults = { theme: 'dark', fontSize: 14 };
let own = {};
try { own = JSON.parse(localStorage.getItem(KEY) || '{}') || {}; } catch { own = {}; }

// The effective values, read by format.js and the shell.
export const prefs = { theme: 'dark', fontSize: 14, tz: 'utc' };

function apply() {
  prefs.theme = own.theme || defaults.theme;
  prefs.fontSize = own.fontSize || defaults.fontSize;
  prefs.tz = own.tz || 'utc';
  document.documentElement.dataset.theme = prefs.theme;
  document.documentElement.style.fontSize = `${prefs.fontSize}px`;
  for (const fn of listeners) fn({ ...prefs });
}

export function setDefaults(ui) {
  if (!ui) return;
  const next = { theme: ui.theme === 'light' ? 'light' : 'dark', fontSize: Number(ui.font_size) || 14 };
  if (next.theme === defaults.theme && next.fontSize === defaults.fontSize) return;
  defaults = next;
  apply();
}

export function setPref(name, value) {
  own = { ...own, [name]: value };
  localStorage.setItem(KEY, JSON.stringify(own));
  apply();
}

export const FONT_MIN = 11;
export const FONT_MAX = 20;

export function usePrefs() {
  const [p, setP] = useState({ ...prefs });
  useEffect(() => { listeners.add(setP); return () => listeners.delete(setP); }, []);
  return p;
}

apply();
