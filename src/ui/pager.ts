/**
 * One page of a long list, and the links to the others: the project's keys, its missing keys and its
 * tokens are paged so that a page stays under 100 KB however many there are.
 */
export interface Pager {
  readonly page: number;
  readonly pages: number;
  readonly total: number;
  readonly previous?: string | undefined;
  readonly next?: string | undefined;
}

/** The rows of page `asked` (a query value; out of range means the nearest page), and a pager when there is more than one. */
export function pageOf<T>(
  items: readonly T[],
  perPage: number,
  asked: unknown,
  href: (page: number) => string,
): { rows: T[]; pager: Pager | undefined } {
  const pages = Math.max(1, Math.ceil(items.length / perPage));
  const page = Math.min(Math.max(Math.trunc(Number(asked)) || 1, 1), pages);
  const rows = items.slice((page - 1) * perPage, page * perPage);
  if (pages === 1) return { rows, pager: undefined };
  return {
    rows,
    pager: {
      page,
      pages,
      total: items.length,
      previous: page > 1 ? href(page - 1) : undefined,
      next: page < pages ? href(page + 1) : undefined,
    },
  };
}
