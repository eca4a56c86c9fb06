import type { Schedule } from '../../src/keys/keystore.js';

/**
 * A clock that moves only when a test moves it, with the timers that go with it: expiry is tested by
 * advancing it instead of sleeping. Timers fire in order, each at its own time, as real ones would.
 */
export class FakeClock {
  #now: number;
  #timers: { at: number; fn: () => void }[] = [];

  constructor(start = Date.now()) {
    this.#now = start;
  }

  readonly now = (): number => this.#now;
  readonly date = (): Date => new Date(this.#now);

  readonly schedule: Schedule = (fn, ms) => {
    const timer = { at: this.#now + ms, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  };

  /** Timers scheduled and neither fired nor cancelled. */
  get pending(): number {
    return this.#timers.length;
  }

  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
    }
    this.#now = until;
  }
}
