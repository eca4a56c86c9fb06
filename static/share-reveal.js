import { decryptShare } from './share-crypto.js';

const card = document.getElementById('reveal');
const button = document.getElementById('reveal-button');
// Read once, then dropped from the address bar (and so from history).
const key = location.hash.slice(1);
if (key) history.replaceState(null, '', location.pathname);

const fail = (message) => {
  const error = document.getElementById('reveal-error');
  error.textContent = message;
  error.hidden = false;
};

if (button) {
  if (!key) {
    button.disabled = true;
    fail('This link is incomplete: the part after # is missing. Ask the sender for the whole link.');
  }
  button.addEventListener('click', async () => {
    const passphraseInput = document.getElementById('reveal-passphrase');
    if (passphraseInput && !passphraseInput.value) return fail('Enter the passphrase the sender gave you.');
    button.disabled = true;
    const response = await fetch(`/api/v1/shares/${card.dataset.id}/reveal`, { method: 'POST' });
    const body = await response.json();
    if (!response.ok) return fail(body.error?.message ?? `the server refused (${response.status})`);
    try {
      document.getElementById('reveal-value').textContent = await decryptShare(
        body.ciphertext,
        key,
        passphraseInput?.value,
      );
      document.getElementById('reveal-result').hidden = false;
      button.hidden = true;
      if (passphraseInput) (passphraseInput.closest('label')?.remove(), passphraseInput.remove());
    } catch (error) {
      fail(`${error.message}. The secret was consumed and cannot be revealed again.`);
    }
  });
}
