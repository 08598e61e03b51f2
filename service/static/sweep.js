// A sweep's page: every trial's objective curve on one chart (the best bold, pruned ones
// dimmed), the trials table sortable by any column, and a scatter of the objective against one
// chosen parameter. Polls the API until every trial has ended.
import { api, number, sleep } from './dashboard.js';

const root = document.getElementById('sweep');
const id = root.dataset.sweepId;
const metric = root.dataset.metric;
const minimise = root.dataset.mode === 'min';
const POLL_MS = 3000;
const ENDED = new Set(['succeeded', 'cancelled', 'failed']);
const ACTIVE = new Set(['queued', 'running', 'cancelling']);
const $ = (name) => document.getElementById(name);

let trials = []; // the API's trial rows, in the order made, each with its index
let best = null; // the best trial's job id
let sortKey = 'objective';
let sortDescending = false;

// --- the curves (uPlot: one x axis of every epoch any trial recorded, a series per trial) ---
const chart = $('curves');
let plot = null;

function drawCurves(lines) {
  const epochs = [...new Set(lines.flatMap((line) => line.points.map(([epoch]) => epoch)))];
  epochs.sort((a, b) => a - b);
  const at = new Map(epochs.map((epoch, i) => [epoch, i]));
  const status = new Map(trials.map((t) => [t.job_id, t.status]));
  const index = new Map(trials.map((t) => [t.job_id, t.index]));
  const log = $('log-scale').checked;
  const data = [epochs];
  const series = [{ label: 'epoch' }];
  for (const line of lines) {
    const values = new Array(epochs.length).fill(null);
    for (const [epoch, value] of line.points) values[at.get(epoch)] = log && value <= 0 ? null : value;
    data.push(values);
    const isBest = line.job_id === best;
    const pruned = status.get(line.job_id) === 'pruned';
    series.push({
      label: `#${index.get(line.job_id)}`,
      stroke: isBest ? '#d9661f' : pruned ? 'rgba(138, 109, 59, 0.3)' : 'rgba(31, 111, 181, 0.7)',
      width: isBest ? 3 : 1,
      spanGaps: true,
      points: { show: false },
      value: (u, v) => number(v),
    });
  }
  plot?.destroy();
  plot = new uPlot({
    width: chart.clientWidth || 600,
    height: 320,
    legend: { show: false },
    scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
    series,
    axes: [{ label: 'epoch' }, { label: log ? `${metric} (log scale)` : metric, size: 64 }],
  }, data, chart);
  chart.dataset.lines = String(lines.length);
}

// --- the trials table ------------------------------------------------------------------------
function sortValue(trial, key) {
  if (key.startsWith('param:')) return trial.params[key.slice(6)];
  if (key === 'objective' && trial.objective !== null) return minimise ? trial.objective : -trial.objective;
  return key === 'index' ? trial.index : trial[key];
}

function compare(a, b) {
  const x = sortValue(a, sortKey);
  const y = sortValue(b, sortKey);
  // Ties as the API breaks them: the earlier best epoch, then the trial made first.
  if (x === y) return (sortKey === 'objective' && a.epoch - b.epoch) || a.index - b.index;
  if (x === null || x === undefined) return 1; // missing values last, either way
  if (y === null || y === undefined) return -1;
  const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
  return sortDescending ? -order : order;
}

function shown(value) {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : number(value);
  return JSON.stringify(value);
}

function drawTable() {
  const paths = [...document.querySelectorAll('#trials th[data-sort^="param:"]')].map((th) => th.dataset.sort.slice(6));
  const rows = [...trials].sort(compare).map((trial) => {
    const tr = document.createElement('tr');
    tr.dataset.jobId = trial.job_id;
    if (trial.job_id === best) tr.classList.add('best');
    if (trial.status === 'pruned') tr.classList.add('pruned');
    const cells = [
      [String(trial.index), 'num'], [null, 'status'], [number(trial.objective), 'num mono'],
      [shown(trial.epoch), 'num'], [String(trial.epochs_run), 'num'],
      ...paths.map((path) => [shown(trial.params[path]), 'mono']),
    ];
    for (const [text, className] of cells) {
      const td = document.createElement('td');
      td.className = className;
      if (className === 'status') {
        const link = document.createElement('a');
        link.href = `/jobs/${trial.job_id}`;
        link.className = `badge status-${trial.status}`;
        link.textContent = trial.status;
        td.append(link);
      } else {
        td.textContent = text;
      }
      tr.append(td);
    }
    return tr;
  });
  document.querySelector('#trials tbody').replaceChildren(...rows);
  for (const th of document.querySelectorAll('#trials th[data-sort]')) {
    if (th.dataset.sort === sortKey) th.setAttribute('aria-sort', sortDescending ? 'descending' : 'ascending');
    else th.removeAttribute('aria-sort');
  }
}

for (const th of document.querySelectorAll('#trials th[data-sort]')) {
  th.addEventListener('click', () => {
    sortDescending = th.dataset.sort === sortKey ? !sortDescending : false;
    sortKey = th.dataset.sort;
    drawTable();
  });
}

// --- the scatter: objective (y) against the chosen param (x), hand-drawn SVG ------------------
const SVG = 'http://www.w3.org/2000/svg';
const BOX = { left: 48, right: 350, top: 10, bottom: 225 };

function svg(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawScatter() {
  const scatter = $('scatter');
  const path = $('scatter-param').value;
  const points = trials.filter((t) => t.objective !== null && path in t.params);
  const items = [];
  if (points.length) {
    const raw = points.map((t) => t.params[path]);
    const numeric = raw.every((v) => typeof v === 'number');
    const categories = numeric ? [] : [...new Set(raw.map((v) => JSON.stringify(v)))];
    // A param spanning decades (a learning rate) reads best on a log axis.
    const positive = numeric && raw.every((v) => v > 0);
    const logX = positive && Math.max(...raw) / Math.min(...raw) > 100;
    const xs = raw.map((v) => (numeric ? (logX ? Math.log10(v) : v) : categories.indexOf(JSON.stringify(v))));
    const ys = points.map((t) => t.objective);
    const scale = (values, low, high) => {
      const min = Math.min(...values);
      const max = Math.max(...values);
      const span = max - min || 1;
      return (v) => low + ((v - min) / span) * (high - low);
    };
    const x = scale(xs, BOX.left + 8, BOX.right - 8);
    const y = scale(ys, BOX.bottom - 8, BOX.top + 8);
    points.forEach((trial, i) => {
      const dot = svg('circle', { cx: x(xs[i]).toFixed(1), cy: y(ys[i]).toFixed(1), r: trial.job_id === best ? 5 : 3.5 });
      if (trial.status === 'pruned') dot.classList.add('pruned');
      if (trial.job_id === best) dot.classList.add('best');
      dot.append(svg('title', {}, `#${trial.index}: ${shown(trial.params[path])} → ${number(trial.objective)}`));
      items.push(dot);
    });
    const low = numeric ? Math.min(...raw) : categories[0];
    const high = numeric ? Math.max(...raw) : categories[categories.length - 1];
    items.push(svg('text', { x: BOX.left, y: BOX.bottom + 14 }, shown(numeric ? low : JSON.parse(low))));
    items.push(svg('text', { x: BOX.right, y: BOX.bottom + 14, 'text-anchor': 'end' }, shown(numeric ? high : JSON.parse(high))));
    items.push(svg('text', { x: BOX.left - 4, y: BOX.top + 8, 'text-anchor': 'end' }, number(Math.max(...ys))));
    items.push(svg('text', { x: BOX.left - 4, y: BOX.bottom, 'text-anchor': 'end' }, number(Math.min(...ys))));
    items.push(svg('text', { x: (BOX.left + BOX.right) / 2, y: BOX.bottom + 28, 'text-anchor': 'middle' }, logX ? `${path} (log scale)` : path));
  }
  items.unshift(
    svg('line', { class: 'axis', x1: BOX.left, y1: BOX.bottom, x2: BOX.right, y2: BOX.bottom }),
    svg('line', { class: 'axis', x1: BOX.left, y1: BOX.top, x2: BOX.left, y2: BOX.bottom }),
  );
  scatter.replaceChildren(...items);
  scatter.dataset.points = String(points.length);
}

$('scatter-param').addEventListener('change', drawScatter);

// --- status, counts, cancel, and the polling that keeps it all current ------------------------
function setSweep(sweep) {
  const badge = $('status');
  badge.textContent = sweep.status;
  badge.className = `badge status-${sweep.status}`;
  root.dataset.status = sweep.status;
  $('counts').textContent = Object.entries(sweep.counts).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`).join(', ');
  $('best').textContent = number(sweep.best ? sweep.best.objective : null);
  $('cancel').hidden = ENDED.has(sweep.status);
  best = sweep.best ? sweep.best.job_id : null;
}

$('cancel').addEventListener('click', async () => {
  $('cancel').disabled = true;
  try {
    setSweep(await api(`/api/v1/sweeps/${id}/cancel`, { method: 'POST' }));
  } finally {
    $('cancel').disabled = false;
  }
});

let lastCurves = [];
$('log-scale').addEventListener('change', () => drawCurves(lastCurves));
window.addEventListener('resize', () => plot?.setSize({ width: chart.clientWidth, height: 320 }));

async function refresh() {
  const sweep = await api(`/api/v1/sweeps/${id}`);
  const rows = (await api(`/api/v1/sweeps/${id}/trials`)).items;
  trials = rows.map((trial, index) => ({ ...trial, index }));
  setSweep(sweep);
  lastCurves = (await api(`/api/v1/sweeps/${id}/curves?points=300`)).items;
  drawCurves(lastCurves);
  drawTable();
  drawScatter();
  return !Object.entries(sweep.counts).some(([status, n]) => ACTIVE.has(status) && n);
}

async function follow() {
  for (;;) {
    try {
      if (await refresh()) return;
    } catch {
      // the server is away for a moment: try again at the next tick
    }
    await sleep(POLL_MS);
  }
}

follow(); // uPlot's deferred script runs before this module (both in document order)
