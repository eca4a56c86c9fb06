import { encryptShare } from './share-crypto.js';

const form = document.getElementById('share-form');
const error = document.getElementById('share-error');
let created;

const api = (path, options = {}) => fetch(path, { credentials: 'same-origin', ...options });
const show = (message) => {
  error.textContent = message;
  error.hidden = !message;
};

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  show('');
  const secret = document.getElementById('share-secret').value.replace(/\r\n/g, '\n');
  const passphrase = document.getElementById('share-passphrase').value;
  if (!secret) return show('Write the secret first.');
  const { ciphertext, key } = await encryptShare(secret, passphrase || undefined);
  const response = await api('/api/v1/shares', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': document.getElementById('csrf').value },
    body: JSON.stringify({
      ciphertext,
      ttl: document.getElementById('share-ttl').value,
      passphrase_protected: Boolean(passphrase),
    }),
  });
  const body = await response.json();
  if (!response.ok) return show(body.error?.message ?? `the server refused (${response.status})`);
  created = body;
  form.reset();
  document.getElementById('share-link').textContent = `${location.origin}/s/${body.id}#${key}`;
  // One date format everywhere (src/ui/view-helpers.ts `when`): relative, the exact UTC time on hover and focus.
  const expires = new Date(body.expires_at);
  const time = document.createElement('time');
  time.className = 'when';
  time.dateTime = expires.toISOString();
  time.title = `${expires.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  time.tabIndex = 0;
  time.textContent = globalThis.secretsflyRelativeTime?.(expires.getTime()) ?? time.title;
  document.getElementById('share-expires').replaceChildren(time);
  document.getElementById('share-state').textContent = 'pending';
  document.getElementById('share-result').hidden = false;
});

const refresh = async () => {
  if (!created) return;
  const response = await api(`/api/v1/shares/${created.id}/status`, {
    headers: { 'x-creator-key': created.creator_key },
  });
  if (response.ok) document.getElementById('share-state').textContent = (await response.json()).state;
};
document.getElementById('share-refresh').addEventListener('click', refresh);
document.getElementById('share-burn').addEventListener('click', async () => {
  if (!created || !window.confirm('Burn this secret? The link stops working at once.')) return;
  await api(`/api/v1/shares/${created.id}`, { method: 'DELETE', headers: { 'x-creator-key': created.creator_key } });
  await refresh();
});
