// A job's page: the loss (and accuracy) curve from /losses?every=N, grown live from the event
// stream, with the validation curves beside them when the job records some; status, progress and
// timings kept current; cancel, delete, predict, the decision boundary and the confusion table.
import { ApiError, api, confirmDelete, followEvents, number, percent, sleep } from './dashboard.js';

const root = document.getElementById('job');
const id = root.dataset.jobId;
const withAccuracy = root.dataset.accuracy === 'yes';
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'pruned']);
const HISTORY_POINTS = 2000; // the curve loads about this many points, evenly spaced
const MAX_POINTS = 4000; // past this, live points are thinned to keep redraws cheap
const POLL_MS = 10000; // the job document, for timings no event announces (a new attempt)
const LOG_SCALE = 'gradyard.logScale'; // where this browser remembers the loss axis's scale

const $ = (name) => document.getElementById(name);

// --- the chart (uPlot: canvas, fast with many points, small enough to vendor) ----------------
const chart = $('chart');
const logScale = $('log-scale');
// epochs, losses, accuracies, validation losses, validation accuracies (null where none)
let curve = [[], [], [], [], []];
let plot = null;
// Which validation curves the job has: a job with no validation split records none, and older
// servers send no such keys; a curve is drawn only once one of its points has a value.
const validation = { loss: false, accuracy: false };

function options(log) {
  const series = [{ label: 'epoch' }, { label: 'loss', stroke: '#1f6fb5', width: 2, value: (u, v) => number(v) }];
  const axes = [{ label: 'epoch' }, { label: log ? 'loss (log scale)' : 'loss', size: 64, values: tickLabels }];
  if (validation.loss) {
    series.push({ label: 'validation loss', stroke: '#1f6fb5', width: 1.5, dash: [6, 4], value: (u, v) => number(v) });
  }
  if (withAccuracy) {
    series.push({ label: 'accuracy', stroke: '#d9661f', width: 1.5, scale: 'acc', value: (u, v) => percent(v) });
    if (validation.accuracy) {
      series.push({ label: 'validation accuracy', stroke: '#d9661f', width: 1.5, dash: [6, 4], scale: 'acc', value: (u, v) => percent(v) });
    }
    const values = (u, ticks) => ticks.map((tick) => `${Math.round(100 * tick)}%`);
    axes.push({ label: 'accuracy', scale: 'acc', side: 1, grid: { show: false }, values });
  }
  return {
    width: chart.clientWidth || 600,
    height: 320,
    scales: { x: { time: false }, y: log ? { distr: 3 } : {}, acc: { range: [0, 1] } },
    series,
    axes,
  };
}

// uPlot writes out every digit ("1,800,000,…" for a loss that diverged): long ones get exponents.
function tickLabels(u, ticks) {
  return ticks.map((tick) => {
    if (tick === null) return null; // a log scale's unlabelled minor tick
    const rounded = Number(tick.toPrecision(6)); // no float noise (0.30000000000000004)
    const large = Math.abs(rounded) >= 1e5 || (rounded !== 0 && Math.abs(rounded) < 1e-4);
    return large ? rounded.toExponential().replace('e+', 'e') : String(rounded);
  });
}

function draw() {
  plot?.destroy();
  plot = new uPlot(options(logScale.checked), visible(), chart);
  chart.dataset.scale = logScale.checked ? 'log' : 'linear';
  chart.dataset.validation = validation.loss ? 'yes' : 'no';
}

function visible() {
  const [epochs, losses, accuracies, valLosses, valAccuracies] = curve;
  // A log scale has no place for a loss of 0: the curve leaves a gap there instead.
  const positive = (values) => (logScale.checked ? values.map((v) => (v > 0 ? v : null)) : values);
  const data = [epochs, positive(losses)];
  if (validation.loss) data.push(positive(valLosses));
  if (withAccuracy) data.push(accuracies);
  if (withAccuracy && validation.accuracy) data.push(valAccuracies);
  return data;
}

logScale.checked = remembered(LOG_SCALE) === 'on';
draw();
logScale.addEventListener('change', () => {
  remember(LOG_SCALE, logScale.checked ? 'on' : 'off');
  draw();
});
window.addEventListener('resize', () => plot.setSize({ width: chart.clientWidth, height: 320 }));

function remembered(key) {
  try { return localStorage.getItem(key); } catch { return null; } // storage may be blocked
}

function remember(key, value) {
  try { localStorage.setItem(key, value); } catch { /* then it lasts as long as the page */ }
}

// A point of the curve from a /losses item ({epoch, loss, accuracy, val_loss, ...}) or an event's
// point ([epoch, loss, accuracy, rmse, val_loss, val_accuracy, val_rmse], store/events.py).
function point(item) {
  if (Array.isArray(item)) return [0, 1, 2, 4, 5].map((i) => item[i] ?? null);
  const valScore = item.val_accuracy ?? null;
  return [item.epoch, item.loss, item.accuracy ?? null, item.val_loss ?? null, valScore];
}

function addPoints(points) {
  const [epochs] = curve;
  const had = { ...validation };
  for (const values of points.map(point)) {
    if (epochs.length && values[0] <= epochs[epochs.length - 1]) continue;
    values.forEach((value, i) => curve[i].push(value));
    if (values[3] !== null) validation.loss = true;
    if (values[4] !== null) validation.accuracy = true;
  }
  if (epochs.length > MAX_POINTS) {
    // Keep every other point and always the newest.
    curve = curve.map((values) => values.filter((_, i) => i % 2 === 0 || i === values.length - 1));
  }
  if (had.loss !== validation.loss || had.accuracy !== validation.accuracy) draw(); // new series
  else plot.setData(visible());
  chart.dataset.points = String(curve[0].length);
}

async function loadCurve() {
  const job = await api(`/api/v1/jobs/${id}`);
  const every = Math.max(1, Math.ceil(job.progress.epoch / HISTORY_POINTS));
  const points = [];
  let url = `/api/v1/jobs/${id}/losses?every=${every}&limit=10000`;
  while (url) {
    const page = await api(url);
    points.push(...page.items);
    url = page.next;
  }
  const last = points.length ? points[points.length - 1].epoch : 0;
  if (job.latest_loss !== null && job.progress.epoch > last) {
    points.push([job.progress.epoch, job.latest_loss, job.latest_accuracy]); // sampling skipped it
  }
  curve = [[], [], [], [], []];
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
  $('cancel').disabled = status === 'cancelling';
  // Until the boundary is drawn, its card says why not: not yet, or never (failed, cancelled).
  const reason = status === 'failed' || status === 'cancelled' ? status : 'waiting';
  for (const note of $('boundary-wait')?.children || []) note.hidden = note.dataset.when !== reason;
  if (status === 'succeeded') {
    $('downloads').hidden = false;
    $('predict').disabled = false;
    showBoundary();
    showConfusion();
  }
  if (error) {
    $('job-error').textContent = error;
    $('job-error').hidden = false;
  }
}

function setProgress(epoch, epochs, loss, accuracy) {
  $('epoch').textContent = epoch;
  $('progress-bar').style.width = `${(100 * epoch / epochs).toFixed(1)}%`;
  $('latest-loss').textContent = number(loss);
  $('latest-accuracy').textContent = percent(accuracy);
}

function showJob(job) {
  setStatus(job.status, job.error);
  showEarlyStop(job);
  setProgress(job.progress.epoch, job.progress.epochs, job.latest_loss, job.latest_accuracy);
  showTimings(job);
}

// The timings: started, finished and attempts from the job document; "ran for" counts up here
// every second while the job runs, on the server's clock (the page says what time it was there).
const skew = Date.parse(root.dataset.now) - Date.now();
let ran = { started: null, finished: null };

function showTimings(job) {
  const clock = (iso) => (iso ? new Date(iso).toISOString().slice(11, 19) : '-');
  $('t-started').textContent = clock(job.started_at);
  $('t-finished').textContent = clock(job.finished_at);
  $('t-attempts').textContent = job.attempts;
  ran = { started: job.started_at, finished: job.finished_at };
  tick();
}

function tick() {
  if (!ran.started) return;
  const end = ran.finished ? Date.parse(ran.finished) : Date.now() + skew;
  $('t-ran').textContent = span(Math.max(0, Math.floor((end - Date.parse(ran.started)) / 1000)));
}

async function refreshTimings() {
  try {
    const job = await api(`/api/v1/jobs/${id}`);
    // An answer that left before the end, arriving after it, must not undo the final timings.
    if (TERMINAL.has(job.status) || !TERMINAL.has(root.dataset.status)) showTimings(job);
  } catch {
    // the server is away for a moment: the next status event or poll tries again
  }
}

async function pollTimings() {
  while (!TERMINAL.has(root.dataset.status)) {
    await sleep(POLL_MS);
    if (!TERMINAL.has(root.dataset.status)) await refreshTimings();
  }
}

function span(seconds) {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['min', 60]]) {
    if (seconds >= size) return `${Math.floor(seconds / size)} ${unit}`;
  }
  return `${seconds} s`;
}

// Early stopping's epochs, when the job document has them (jobs that stop early).
function showEarlyStop(job) {
  const stopped = job.stopped_epoch ?? null;
  const best = job.best_epoch ?? null;
  if (stopped === null && best === null) return;
  $('stopped-epoch').textContent = stopped ?? '-';
  $('best-epoch').textContent = best ?? '-';
  $('early-stop').hidden = false;
}

// The confusion table, once the job has succeeded (rendered by the server, as on a page load).
let confusionAsked = false;
async function showConfusion() {
  const holder = $('confusion');
  if (!holder || $('confusion-table') || confusionAsked) return;
  confusionAsked = true;
  const response = await fetch(`/jobs/${id}/confusion-table`, { cache: 'no-store' });
  if (response.ok) holder.innerHTML = await response.text();
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
    if (!TERMINAL.has(data.status)) refreshTimings(); // started, attempts; finish() does the end
    return TERMINAL.has(data.status);
  });
  await finish();
}

async function start() {
  const job = await loadCurve();
  showJob(job);
  if (TERMINAL.has(job.status)) return;
  const ticking = setInterval(tick, 1000);
  pollTimings();
  await follow(job);
  clearInterval(ticking);
}

// --- actions ------------------------------------------------------------------------------
$('cancel').addEventListener('click', async () => {
  if (!window.confirm('Cancel this job? It stops after its current epoch and cannot be resumed.')) return;
  $('cancel').disabled = true; // no second request while this one is out
  try {
    const job = await api(`/api/v1/jobs/${id}/cancel`, { method: 'POST' });
    setStatus(job.status, job.error);
  } catch (failed) {
    $('cancel').disabled = false;
    $('job-error').textContent = failed.message;
    $('job-error').hidden = false;
  }
});

$('delete').addEventListener('click', async () => {
  $('job-error').hidden = true;
  const name = root.dataset.name || id.slice(0, 8);
  if (await confirmDelete(id, name, $('delete'), $('job-error'))) location.href = '/';
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
    // A classifier's answer names each sample's class (its dataset's class names, if it had some).
    $('classes').textContent = answer.classes ? JSON.stringify(answer.classes) : '';
    $('predicted-classes').hidden = !answer.classes;
  } catch (failed) {
    error.textContent = failed instanceof ApiError || failed instanceof SyntaxError ? failed.message : String(failed);
    error.hidden = false;
  }
});

start().catch((failed) => {
  $('job-error').textContent = `Live updates stopped: ${failed.message}`;
  $('job-error').hidden = false;
});
