// A job's page: the loss (and accuracy) curve from /losses?every=N, grown live from the event
// stream; status, progress and timings kept current; cancel, predict and the decision boundary.
import { ApiError, api, followEvents } from './dashboard.js';

const root = document.getElementById('job');
const id = root.dataset.jobId;
const withAccuracy = root.dataset.accuracy === 'yes';
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const HISTORY_POINTS = 2000; // the curve loads about this many points, evenly spaced
const MAX_POINTS = 4000; // past this, live points are thinned to keep redraws cheap

const $ = (name) => document.getElementById(name);
const short = (value) => (value === null || value === undefined ? '-' : Number(value).toPrecision(4));

// --- the chart (uPlot: canvas, fast with many points, small enough to vendor) ----------------
const chart = $('chart');
let curve = [[], [], []]; // epochs, losses, accuracies
const series = [{ label: 'epoch' }, { label: 'loss', stroke: '#1f6fb5', width: 2, value: (u, v) => short(v) }];
const axes = [{ label: 'epoch' }, { label: 'loss', size: 64 }];
if (withAccuracy) {
  series.push({ label: 'accuracy', stroke: '#d9661f', width: 1.5, scale: 'acc', value: (u, v) => short(v) });
  axes.push({ label: 'accuracy', scale: 'acc', side: 1, grid: { show: false } });
}
const plot = new uPlot({
  width: chart.clientWidth || 600,
  height: 320,
  scales: { x: { time: false }, acc: { range: [0, 1] } },
  series,
  axes,
}, visible(), chart);
window.addEventListener('resize', () => plot.setSize({ width: chart.clientWidth, height: 320 }));

function visible() {
  return withAccuracy ? curve : curve.slice(0, 2);
}

function addPoints(points) {
  const [epochs, losses, accuracies] = curve;
  for (const [epoch, loss, accuracy] of points) {
    if (epochs.length && epoch <= epochs[epochs.length - 1]) continue;
    epochs.push(epoch);
    losses.push(loss);
    accuracies.push(accuracy);
  }
  if (epochs.length > MAX_POINTS) {
    // Keep every other point and always the newest.
    curve = curve.map((values) => values.filter((_, i) => i % 2 === 0 || i === values.length - 1));
  }
  plot.setData(visible());
  chart.dataset.points = String(curve[0].length);
}

async function loadCurve() {
  const job = await api(`/api/v1/jobs/${id}`);
  const every = Math.max(1, Math.ceil(job.progress.epoch / HISTORY_POINTS));
  const points = [];
  let url = `/api/v1/jobs/${id}/losses?every=${every}&limit=10000`;
  while (url) {
    const page = await api(url);
    for (const item of page.items) points.push([item.epoch, item.loss, item.accuracy]);
    url = page.next;
  }
  const last = points.length ? points[points.length - 1][0] : 0;
  if (job.latest_loss !== null && job.progress.epoch > last) {
    points.push([job.progress.epoch, job.latest_loss, job.latest_accuracy]); // sampling skipped it
  }
  curve = [[], [], []];
  addPoints(points);
  return job;
}

// --- status, progress, timings ------------------------------------------------------------
function setStatus(status, error) {
  const badge = $('status');
  badge.textContent = status;
  badge.className = `badge status-${status}`;
  root.dataset.status = status;
  $('cancel').hidden = TERMINAL.has(status);
  if (error) {
    $('job-error').textContent = error;
    $('job-error').hidden = false;
  }
}

function setProgress(epoch, epochs, loss, accuracy) {
  $('epoch').textContent = epoch;
  $('progress-bar').style.width = `${(100 * epoch / epochs).toFixed(1)}%`;
  $('latest-loss').textContent = short(loss);
  $('latest-accuracy').textContent = short(accuracy);
}

function showJob(job) {
  setStatus(job.status, job.error);
  setProgress(job.progress.epoch, job.progress.epochs, job.latest_loss, job.latest_accuracy);
  const clock = (iso) => (iso ? new Date(iso).toISOString().slice(11, 19) : '-');
  $('t-started').textContent = clock(job.started_at);
  $('t-finished').textContent = clock(job.finished_at);
  $('t-attempts').textContent = job.attempts;
  if (job.started_at) {
    const end = job.finished_at ? new Date(job.finished_at) : new Date();
    $('t-ran').textContent = span(Math.round((end - new Date(job.started_at)) / 1000));
  }
  if (job.status === 'succeeded') {
    $('weights').hidden = false;
    $('predict').disabled = false;
    showBoundary();
  }
}

function span(seconds) {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['min', 60]]) {
    if (seconds >= size) return `${Math.floor(seconds / size)} ${unit}`;
  }
  return `${seconds} s`;
}

function showBoundary() {
  const card = $('boundary-card');
  if (!card || $('boundary')) return;
  const image = document.createElement('img');
  Object.assign(image, { id: 'boundary', width: 420, height: 420, alt: 'decision boundary over the training points' });
  image.src = `/jobs/${id}/boundary.svg`;
  $('boundary-wait')?.remove();
  card.append(image);
}

// --- live updates -------------------------------------------------------------------------
async function finish() {
  showJob(await loadCurve()); // the exact, evenly sampled curve and the final timings
}

async function follow(job) {
  const epochs = curve[0];
  const cursor = `${epochs.length ? epochs[epochs.length - 1] : 0}:${job.status}`;
  await followEvents(`/api/v1/jobs/${id}/events`, cursor, (event) => {
    const data = event.data;
    if (event.event === 'epoch') {
      addPoints(data.points);
      setProgress(data.epoch, data.epochs, data.loss, data.accuracy);
      return false;
    }
    setStatus(data.status, data.error);
    return TERMINAL.has(data.status);
  });
  await finish();
}

async function start() {
  const job = await loadCurve();
  showJob(job);
  if (!TERMINAL.has(job.status)) await follow(job);
}

// --- actions ------------------------------------------------------------------------------
$('cancel').addEventListener('click', async () => {
  try {
    const job = await api(`/api/v1/jobs/${id}/cancel`, { method: 'POST' });
    setStatus(job.status, job.error);
  } catch (failed) {
    $('job-error').textContent = failed.message;
    $('job-error').hidden = false;
  }
});

$('predict-form').addEventListener('submit', async (submitted) => {
  submitted.preventDefault();
  const error = $('predict-error');
  const output = $('outputs');
  error.hidden = true;
  try {
    let inputs = JSON.parse($('inputs').value);
    if (Array.isArray(inputs) && typeof inputs[0] === 'number') inputs = [inputs]; // one row
    const answer = await api(`/api/v1/jobs/${id}/predict`, { method: 'POST', body: { inputs } });
    output.textContent = JSON.stringify(answer.outputs);
    output.hidden = false;
  } catch (failed) {
    error.textContent = failed instanceof ApiError || failed instanceof SyntaxError ? failed.message : String(failed);
    error.hidden = false;
  }
});

start().catch((failed) => {
  $('job-error').textContent = `Live updates stopped: ${failed.message}`;
  $('job-error').hidden = false;
});
