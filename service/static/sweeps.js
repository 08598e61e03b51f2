// The sweeps list: kept current by polling /api/v1/sweeps while any sweep is still going.
import { api, number, sleep } from './dashboard.js';

const POLL_MS = 5000;
const ENDED = new Set(['succeeded', 'cancelled', 'failed']);
const body = document.querySelector('#sweeps tbody');

function cell(text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function row(sweep) {
  const tr = document.createElement('tr');
  tr.dataset.sweepId = sweep.id;
  const name = document.createElement('td');
  name.className = 'name';
  const link = document.createElement('a');
  link.href = `/sweeps/${sweep.id}`;
  link.textContent = sweep.name || sweep.id.slice(0, 8);
  name.append(link);
  const status = document.createElement('td');
  status.className = 'status';
  const badge = document.createElement('span');
  badge.className = `badge status-${sweep.status}`;
  badge.textContent = sweep.status;
  status.append(badge);
  const counts = Object.entries(sweep.counts).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`);
  tr.append(
    name, status, cell(String(sweep.trials), 'num'), cell(counts.join(', '), 'counts'),
    cell(number(sweep.best ? sweep.best.objective : null), 'num mono'),
    cell(`${sweep.objective.metric} (${sweep.objective.mode})`), cell(sweep.created_at),
  );
  return tr;
}

async function refresh() {
  for (;;) {
    await sleep(POLL_MS);
    try {
      const page = await api('/api/v1/sweeps?limit=50');
      body.replaceChildren(...page.items.map(row));
      if (page.items.every((sweep) => ENDED.has(sweep.status))) return;
    } catch {
      // the server is away for a moment: try again at the next tick
    }
  }
}

if (body) refresh();
