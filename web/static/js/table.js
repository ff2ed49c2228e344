// DataTable: sortable, filterable, expandable and paginated, with column visibility remembered
// per table in localStorage (defaults: the column's `hidden`, or ui.column_visibility[id]).
// Only one page of rows is rendered, so 1,000 rows cost the same as 50.
//
// columns: [{ key, label, value: row => sortable value, render?: row => content,
//             text?: row => filter text, num?: true (right-aligned), hidden?: true,
//             fixed?: true (cannot be hidden), sort?: false }]
// props:   id, columns, rows, rowKey, expand?: row => content, filter?: true,
//          pageSize?: 50, empty?: text, toolbar?: extra controls, defaultVisible?: [keys]
import { useEffect, useMemo, useState } from 'preact/hooks';
import { html } from './html.js';

const STORE = 'engine.columns.';

function loadHidden(id, columns, defaultVisible) {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE + id) || 'null');
    if (Array.isArray(saved)) return new Set(saved);
  } catch { /* fall through */ }
  if (Array.isArray(defaultVisible) && defaultVisible.length) {
    return new Set(columns.filter((c) => !c.fixed && !defaultVisible.includes(c.key)).map((c) => c.key));
  }
  return new Set(columns.filter((c) => c.hidden).map((c) => c.key));
}

function sortValue(v) {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number') return v;
  const s = String(v);
  return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(s) ? Number(s) : s.toLowerCase(); // ordering only
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

export function DataTable({
  id, columns, rows, rowKey = (r) => r.id, expand, filter = true, pageSize = 50,
  empty = 'Nothing to show.', toolbar, defaultVisible, caption,
}) {
  const [sort, setSort] = useState(null); // {key, dir: 1 | -1}
  const [text, setText] = useState('');
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState(() => new Set());
  const [hidden, setHidden] = useState(() => loadHidden(id, columns, defaultVisible));
  const visible = columns.filter((c) => !hidden.has(c.key));

  const shown = useMemo(() => {
    let out = rows || [];
    const needle = text.trim().toLowerCase();
    if (needle) {
      out = out.filter((r) => columns.some((c) => {
        const t = c.text ? c.text(r) : c.value?.(r);
        return t !== null && t !== undefined && String(t).toLowerCase().includes(needle);
      }));
    }
    if (sort) {
      const col = columns.find((c) => c.key === sort.key);
      if (col) {
        out = out.map((r) => [sortValue(col.value(r)), r])
          .sort((a, b) => compare(a[0], b[0]) * sort.dir).map((x) => x[1]);
      }
    }
    return out;
  }, [rows, text, sort, columns]);

  const pages = Math.max(1, Math.ceil(shown.length / pageSize));
  useEffect(() => { if (page >= pages) setPage(pages - 1); }, [pages]);
  const first = Math.min(page, pages - 1) * pageSize;
  const slice = shown.slice(first, first + pageSize);

  const toggleSort = (key) => setSort((s) => (s?.key !== key ? { key, dir: 1 }
    : s.dir === 1 ? { key, dir: -1 } : null));
  const toggleColumn = (key) => {
    const next = new Set(hidden);
    if (next.has(key)) next.delete(key); else next.add(key);
    localStorage.setItem(STORE + id, JSON.stringify([...next]));
    setHidden(next);
  };
  const toggleRow = (key) => setOpen((o) => {
    const next = new Set(o);
    if (next.has(key)) next.delete(key); else next.add(key);
    return next;
  });
  const span = visible.length + (expand ? 1 : 0);

  return html`<div class="section" data-table=${id}>
    <div class="toolbar">
      ${filter && html`<label class="field grow">Filter
        <input type="search" value=${text} placeholder="Type to filter rows"
          onInput=${(e) => { setText(e.currentTarget.value); setPage(0); }} /></label>`}
      ${toolbar}
      <details class="columns">
        <summary class="button" role="button">Columns</summary>
        <div role="group" aria-label="Visible columns">
          ${columns.filter((c) => !c.fixed).map((c) => html`<label class="check" key=${c.key}>
            <input type="checkbox" checked=${!hidden.has(c.key)} onChange=${() => toggleColumn(c.key)} />
            ${c.label}</label>`)}
        </div>
      </details>
    </div>
    <div class="table-wrap">
      <table class="data">
        ${caption && html`<caption class="sr-only">${caption}</caption>`}
        <thead><tr>
          ${expand && html`<th><span class="sr-only">Expand</span></th>`}
          ${visible.map((c) => {
            const dir = sort?.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none';
            return html`<th key=${c.key} class=${c.num ? 'num' : ''} aria-sort=${dir} scope="col">
              ${c.sort === false ? c.label : html`<button class="sort" onClick=${() => toggleSort(c.key)}>
                ${c.label}${dir === 'ascending' ? ' ▲' : dir === 'descending' ? ' ▼' : ''}</button>`}</th>`;
          })}
        </tr></thead>
        <tbody>
          ${slice.length === 0 && html`<tr><td colspan=${span} class="muted">${empty}</td></tr>`}
          ${slice.map((r) => {
            const key = rowKey(r);
            const isOpen = open.has(key);
            return [
              html`<tr key=${key} data-row=${key}>
                ${expand && html`<td><button class="small" aria-expanded=${isOpen ? 'true' : 'false'}
                  aria-label=${`${isOpen ? 'Collapse' : 'Expand'} row ${key}`} onClick=${() => toggleRow(key)}>
                  ${isOpen ? '▾' : '▸'}</button></td>`}
                ${visible.map((c) => html`<td key=${c.key} class=${c.num ? 'num' : c.wrap ? 'wrap' : ''}>
                  ${c.render ? c.render(r) : c.value(r)}</td>`)}
              </tr>`,
              isOpen && html`<tr class="detail" key=${`${key}-detail`}><td colspan=${span}>${expand(r)}</td></tr>`,
            ];
          })}
        </tbody>
      </table>
    </div>
    <div class="table-foot">
      <span>${shown.length ? `Rows ${first + 1}–${first + slice.length} of ${shown.length}` : ''}
        ${rows && shown.length !== rows.length ? ` (filtered from ${rows.length})` : ''}</span>
      ${pages > 1 && html`<span class="actions">
        <button class="small" disabled=${page === 0} onClick=${() => setPage(page - 1)}>Previous</button>
        <span>Page ${page + 1} / ${pages}</span>
        <button class="small" disabled=${page >= pages - 1} onClick=${() => setPage(page + 1)}>Next</button>
      </span>`}
    </div>
  </div>`;
}
