// Shared by every dashboard page: the API token, calls to the API, and the event stream reader.
//
// The token lives in a cookie (SameSite=Strict) so the server can render pages for its owner;
// scripts send it as "Authorization: Bearer" on API calls, the only way the API accepts it.

const COOKIE = document.body.dataset.cookie;
const TOKEN_DAYS = 30;

export function token() {
  const found = document.cookie.split('; ').find((c) => c.startsWith(`${COOKIE}=`));
  return found ? decodeURIComponent(found.slice(COOKIE.length + 1)) : null;
}

function saveToken(value) {
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = `${COOKIE}=${encodeURIComponent(value)}; path=/; ` +
    `max-age=${TOKEN_DAYS * 86400}; SameSite=Strict${secure}`;
}

function forgetToken() {
  document.cookie = `${COOKIE}=; path=/; max-age=0; SameSite=Strict`;
}

function authHeaders(extra = {}) {
  const value = token();
  return value ? { ...extra, Authorization: `Bearer ${value}` } : extra;
}

/** An error answer of the API; `problem` is its RFC 9457 problem document. */
export class ApiError extends Error {
  constructor(problem) {
    super(describe(problem));
    this.problem = problem;
  }
}

/** A problem document as a short text: its detail, or one line per bad field. */
export function describe(problem) {
  const title = problem.title || 'Error';
  const detail = problem.detail || '';
  const fields = (problem.errors || []).map((error) => `${error.field}: ${error.message}`);
  // A validation problem's detail already joins its fields' messages: show each once.
  if (fields.length && fields.every((field) => detail.includes(field))) {
    return [`${title}:`, ...fields.map((field) => `  ${field}`)].join('\n');
  }
  return [`${title}: ${detail}`, ...fields.map((field) => `  ${field}`)].join('\n');
}

/** A loss: 4 significant digits, as the pages' `number` filter (service/dashboard/views.py). */
export function number(value) {
  if (value === null || value === undefined) return '-';
  if (!Number.isFinite(value)) return String(value);
  const [mantissa, exponent] = value.toExponential(3).split('e');
  const power = Number(exponent);
  return power < -4 || power >= 4 ? `${mantissa}e${power}` : value.toFixed(3 - power);
}

/** An accuracy as a percentage with one decimal, as the pages' `percent` filter. */
export function percent(value) {
  return value === null || value === undefined ? '-' : `${(100 * value).toFixed(1)}%`;
}

/** Call the API with a JSON `body`, or a `raw` one of type `contentType`; the JSON answer, or
 * an ApiError. */
export async function api(path, { method = 'GET', body, raw, contentType } = {}) {
  const type = raw !== undefined ? contentType : 'application/json';
  const sent = raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body);
  const headers = authHeaders(sent === undefined ? {} : { 'Content-Type': type });
  const response = await fetch(path, { method, headers, body: sent });
  const text = await response.text();
  let document = null;
  try { document = text ? JSON.parse(text) : null; } catch { document = null; }
  if (!response.ok) {
    throw new ApiError(document || { title: response.statusText, detail: text.slice(0, 200) });
  }
  return document;
}

/**
 * Ask, then delete a job through the API; true once it is gone. A refusal (an active job's 409
 * says "cancel it first") is shown in `errorBox`; `button` is disabled while the call is out.
 */
export async function confirmDelete(jobId, name, button, errorBox) {
  if (!window.confirm(`Delete job ${name}? Its losses, weights and model go with it.`)) return false;
  button.disabled = true;
  try {
    await api(`/api/v1/jobs/${jobId}`, { method: 'DELETE' });
    return true;
  } catch (failed) {
    errorBox.textContent = failed instanceof ApiError ? failed.message : String(failed);
    errorBox.hidden = false;
    return false;
  } finally {
    button.disabled = false;
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follow a Server-Sent Events stream with fetch (EventSource cannot send a token header),
 * reconnecting with Last-Event-ID whenever the server ends a stream, until `onEvent` returns
 * true or the server answers 204 (nothing more will come).
 */
export async function followEvents(path, lastEventId, onEvent) {
  for (;;) {
    const headers = authHeaders(lastEventId ? { 'Last-Event-ID': lastEventId } : {});
    let response;
    try {
      response = await fetch(path, { headers, cache: 'no-store' });
    } catch {
      await sleep(2000); // the server is away: try again shortly
      continue;
    }
    if (response.status === 204) return;
    if (response.status === 429 || response.status === 503) {
      // Too many streams open (this owner's, or the server's): wait as asked, then try again.
      const seconds = Number(response.headers.get('Retry-After')) || 5;
      await sleep(Math.min(Math.max(seconds, 1), 60) * 1000);
      continue;
    }
    if (!response.ok) throw new ApiError(await response.json());
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = parseEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (!event) continue;
          lastEventId = event.id;
          if (onEvent(event)) {
            await reader.cancel();
            return;
          }
        }
      }
    } catch {
      // the connection broke: resume below
    }
    await sleep(1000);
  }
}

function parseEvent(block) {
  const fields = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue; // a keep-alive comment
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
  }
  if (!fields.data) return null;
  return { id: fields.id, event: fields.event || 'message', data: JSON.parse(fields.data) };
}

// The token form (shown when AUTH is on and this browser has no valid token) and "forget".
const tokenForm = document.getElementById('token-form');
if (tokenForm) {
  tokenForm.addEventListener('submit', async (submitted) => {
    submitted.preventDefault();
    const value = document.getElementById('token').value.trim();
    const error = document.getElementById('token-error');
    const check = await fetch('/api/v1/jobs?limit=1', { headers: { Authorization: `Bearer ${value}` } });
    if (check.ok) {
      saveToken(value);
      location.reload();
    } else {
      error.textContent = describe(await check.json());
      error.hidden = false;
    }
  });
}
document.getElementById('forget-token')?.addEventListener('click', () => {
  forgetToken();
  location.reload();
});
