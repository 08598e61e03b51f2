// The datasets page: upload the chosen CSV file through the API, then open the dataset's page.
import { ApiError, api } from './dashboard.js';

const form = document.getElementById('upload-form');
const error = document.getElementById('upload-error');

form.addEventListener('submit', async (submitted) => {
  submitted.preventDefault();
  error.hidden = true;
  const file = document.getElementById('csv-file').files[0];
  if (!file) return;
  const query = new URLSearchParams();
  const name = document.getElementById('csv-name').value.trim() || file.name.replace(/\.csv$/i, '');
  const target = document.getElementById('csv-target').value.trim();
  query.set('name', name);
  if (target) query.set('target', target);
  const button = document.getElementById('upload');
  button.disabled = true;
  try {
    const dataset = await api(`/api/v1/datasets?${query}`, {
      method: 'POST', raw: await file.arrayBuffer(), contentType: 'text/csv',
    });
    location.href = `/datasets/${dataset.id}`;
  } catch (failed) {
    error.textContent = failed instanceof ApiError ? failed.message : String(failed);
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
