interface ResolvedEntry {
  readonly revision: number;
  readonly values: ReadonlyMap<string, unknown>;
  /** Response bodies rendered from `values` (JSON, dotenv …), by variant; they go with it. */
  readonly renders: Map<string, string>;
}

/**
 * One root's decrypted values, by scope (project/environment), each valid only at the root's
 * `revision`, with the bodies rendered from them. Lives in the keystore's slot for that root and
 * goes with it: decrypted values live only as long as a key that could decrypt them again.
 */
export class ResolvedValues {
  readonly #byScope = new Map<string, ResolvedEntry>();

  /** The values of `scope` at `revision`, or undefined. */
  at<T>(scope: string, revision: number): ReadonlyMap<string, T> | undefined {
    const entry = this.#byScope.get(scope);
    return entry && entry.revision === revision ? (entry.values as ReadonlyMap<string, T>) : undefined;
  }

  /** The values last resolved for `scope`, whatever their revision (for values that did not change). */
  last<T>(scope: string): ReadonlyMap<string, T> | undefined {
    return this.#byScope.get(scope)?.values as ReadonlyMap<string, T> | undefined;
  }

  remember(scope: string, revision: number, values: ReadonlyMap<string, unknown>): void {
    this.#byScope.set(scope, { revision, values, renders: new Map() });
  }

  /** A body rendered earlier from the values held at this revision, or undefined. */
  rendered(scope: string, revision: number, variant: string): string | undefined {
    const entry = this.#byScope.get(scope);
    return entry && entry.revision === revision ? entry.renders.get(variant) : undefined;
  }

  rememberRendered(scope: string, revision: number, variant: string, body: string): void {
    const entry = this.#byScope.get(scope);
    if (entry && entry.revision === revision) entry.renders.set(variant, body);
  }

  clear(): void {
    this.#byScope.clear();
  }
}
