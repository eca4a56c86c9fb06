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
  // Past a page of keys the server filters (src/secrets/secret.routes.ts): ask it, and show its rows.
  let pending;
  let inFlight;
  const ask = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      // Only the newest answer is shown: an older one arriving late is dropped.
      inFlight?.abort();
      inFlight = new AbortController();
      const { signal } = inFlight;
      const url = new URL(window.location.href);
      url.searchParams.delete('page');
      if (filter.value.trim()) url.searchParams.set('q', filter.value.trim());
      else url.searchParams.delete('q');
      let next;
      try {
        const response = await fetch(url, { headers: { accept: 'text/html' }, credentials: 'same-origin', signal });
        if (!response.ok) return;
        next = new DOMParser().parseFromString(await response.text(), 'text/html');
      } catch {
        return; // aborted by a newer query, or the server is away: the list stays as it is
      }
      for (const selector of [filter.dataset.filter, '#key-count', '#key-pager', '#no-match']) {
        const fresh = next.querySelector(selector);
        const shown = document.querySelector(selector);
        if (fresh && shown) shown.replaceWith(document.adoptNode(fresh));
      }
      window.history.replaceState(null, '', url);
    }, 200);
  };
  filter.addEventListener('input', filter.dataset.paged ? ask : apply);
}
