// Panel B — Positions & Pyramids (SPEC 11.5 B): open, waiting and closed groups; expanding a
// group shows its legs by pyramid; admins close a group (with a confirmation).
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { get } from '../api.js';
import { useTopic } from '../live.js';
import { Loading, ReadOnlyNote } from '../ui.js';
import { notifyError } from '../notices.js';
import { GroupsTable, OPEN } from '../groups_table.js';

const VIEWS = {
  current: { label: 'Open and waiting', keep: (g) => OPEN.has(g.status) || g.status === 'waiting' },
  open: { label: 'Open', keep: (g) => OPEN.has(g.status) },
  waiting: { label: 'Waiting', keep: (g) => g.status === 'waiting' },
  ended: { label: 'Closed and failed', keep: (g) => g.status === 'closed' || g.status === 'failed' },
  all: { label: 'All', keep: () => true },
};

export default function Positions({ query }) {
  const topic = useTopic('groups');
  const [view, setView] = useState(query.get('view') in VIEWS ? query.get('view') : 'current');
  const [allEnded, setAllEnded] = useState(null); // every closed group, loaded on demand
  useEffect(() => { if (view !== 'ended' && view !== 'all') setAllEnded(null); }, [view]);
  if (!topic) return html`<${Loading} what="groups" />`;
  let rows = topic.groups.filter(VIEWS[view].keep);
  if (allEnded && (view === 'ended' || view === 'all')) {
    rows = [...rows.filter((g) => g.status !== 'closed' && g.status !== 'failed'), ...allEnded];
  }
  const loadAll = async () => {
    try {
      const [closed, failed] = await Promise.all([get('/api/groups?status=closed'), get('/api/groups?status=failed')]);
      setAllEnded([...closed.groups, ...failed.groups]);
    } catch (e) { e.action = 'Load closed groups'; notifyError(e); }
  };
  const toolbar = html`<label class="field">View
      <select aria-label="View" value=${view} onChange=${(e) => setView(e.currentTarget.value)}>
        ${Object.entries(VIEWS).map(([k, v]) => html`<option value=${k}>${v.label}</option>`)}
      </select></label>
    ${(view === 'ended' || view === 'all') && !allEnded
      && html`<button onClick=${loadAll} title="The live list carries the 50 most recent">Load all closed</button>`}`;
  return html`<${ReadOnlyNote} />
    <${GroupsTable} id="positions" rows=${rows} toolbar=${toolbar}
      empty=${view === 'current' ? 'No open or waiting groups. A webhook opens one.' : 'No groups in this view.'} />`;
}
