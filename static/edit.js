// Editing pages: the key filter narrows the list as you type (without this file it works on submit).
const filter = document.querySelector('[data-filter]');
if (filter) {
  const rows = [...document.querySelectorAll(`${filter.dataset.filter} > tr`)];
  const count = document.getElementById('key-count');
  const noMatch = document.getElementById('no-match');
  const noMatchQuery = document.getElementById('no-match-query');
  const total = rows.length;
  const apply = () => {
    const query = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      const match = row.dataset.key.toLowerCase().includes(query);
      row.hidden = !match;
      if (match) shown += 1;
    }
    const noun = total === 1 ? 'key' : 'keys';
    count.textContent = query ? `${shown} of ${total} ${noun}` : `${total} ${noun}`;
    noMatch.hidden = shown > 0;
    noMatchQuery.textContent = filter.value.trim();
    // The address keeps the filter, so a reload or a shared link shows the same rows.
    const url = new URL(window.location.href);
    if (query) url.searchParams.set('q', filter.value.trim());
    else url.searchParams.delete('q');
    window.history.replaceState(null, '', url);
  };
  filter.addEventListener('input', apply);
}
