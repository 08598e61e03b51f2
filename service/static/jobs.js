// The jobs page: submit the JSON box, delete jobs (after asking), and keep the table current by
// re-fetching its fragment.
import { ApiError, api, confirmDelete } from './dashboard.js';

const form = document.getElementById('submit-form');
const error = document.getElementById('submit-error');

form.addEventListener('submit', async (submitted) => {
  submitted.preventDefault();
  error.hidden = true;
  let spec;
  try {
    spec = JSON.parse(document.getElementById('spec').value);
  } catch (bad) {
    showError(`The spec is not valid JSON: ${bad.message}`);
    return;
  }
  try {
    const job = await api('/api/v1/jobs', { method: 'POST', body: spec });
    location.href = `/jobs/${job.id}`;
  } catch (failed) {
    showError(failed instanceof ApiError ? failed.message : String(failed));
  }
});

function showError(text) {
  error.textContent = text;
  error.hidden = false;
}

// Delete buttons, one per row: the table is replaced on each refresh, so listen on its holder.
const deleteError = document.getElementById('delete-error');
document.getElementById('jobs').addEventListener('click', async (clicked) => {
  const button = clicked.target.closest('button[data-delete]');
  if (!button) return;
  deleteError.hidden = true;
  const deleted = await confirmDelete(button.dataset.delete, button.dataset.name, button, deleteError);
  if (deleted) button.closest('tr').remove();
});

// Refresh every 2 s while some listed job is still active, else every 15 s.
const holder = document.getElementById('jobs');
function refresh() {
  const table = document.getElementById('jobs-table');
  const active = Number(table?.dataset.active || 0) > 0;
  setTimeout(async () => {
    const query = new URLSearchParams(location.search);
    try {
      const response = await fetch(`/jobs-table?${query}`, { cache: 'no-store' });
      if (response.ok) holder.innerHTML = await response.text();
    } catch {
      // the server is away for a moment: the next refresh tries again
    } finally {
      refresh();
    }
  }, active ? 2000 : 15000);
}
refresh();
