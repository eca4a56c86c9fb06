// secretsfly UI: progressive enhancement only. Every page works without this file.
document.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-copy]');
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent);
    const label = button.textContent;
    button.textContent = 'Copied';
    setTimeout(() => (button.textContent = label), 1500);
  } catch {
    // No clipboard (plain HTTP on a remote host): select the text so Ctrl-C works.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
});

document.addEventListener('submit', (event) => {
  // A button may submit a shared form (form="…" formaction="…"): its own question comes first.
  const message = event.submitter?.dataset?.confirm ?? (event.target.dataset && event.target.dataset.confirm);
  if (message && !window.confirm(message)) event.preventDefault();
});

// Tables whose page gave no cell labels get them from their header, so that on a phone each row
// reads as a card of labelled fields (app.css); without this file those tables scroll sideways.
for (const table of document.querySelectorAll('.table-wrap > table:not(.cards)')) {
  const labels = [...table.querySelectorAll('thead th')].map((th) =>
    th.querySelector('.visually-hidden') ? '' : th.textContent.trim(),
  );
  for (const row of table.querySelectorAll('tbody tr')) {
    [...row.cells].forEach((cell, i) => {
      if (labels[i] && cell.colSpan === 1) cell.dataset.label = labels[i];
    });
  }
  table.classList.add('cards');
}

// Relative dates stay true while a page stays open: the rules of relativeTime in src/ui/view-helpers.ts.
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });
const units = [
  ['minute', 60, 60],
  ['hour', 3600, 24],
  ['day', 86400, 30],
  ['month', 2629800, 12],
  ['year', 31557600, Infinity],
];
const relativeTime = (at) => {
  const seconds = (at - Date.now()) / 1000;
  if (Math.abs(seconds) < 60) return seconds <= 0 ? 'just now' : 'in under a minute';
  for (const [unit, length, upTo] of units) {
    const count = Math.round(seconds / length);
    if (Math.abs(count) < upTo) return relative.format(count, unit);
  }
  return null;
};
// For pages whose own script shows a date (share-create.js): the same words as everywhere else.
globalThis.secretsflyRelativeTime = relativeTime;
setInterval(() => {
  for (const time of document.querySelectorAll('time.when[datetime]')) {
    const text = relativeTime(Date.parse(time.dateTime));
    if (text && time.textContent !== text) time.textContent = text;
  }
}, 30_000);
