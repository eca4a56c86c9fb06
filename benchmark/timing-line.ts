/** How server-timing.ts starts each line it prints (apart, so the bench can read them without loading it). */
export const TIMING_LINE = 'sf-bench-server-timing ';
