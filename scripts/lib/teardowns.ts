/**
 * Cleanups owned by a launcher script, run latest first: the {@link TeardownOwner} that
 * scripts/lib/postgres-server.ts and friends register with outside tap. Trust: none.
 */
import type { TeardownOwner } from './postgres-server.js'

/**
 * A list of cleanups; `run()` runs each once (latest first), going on when one throws.
 *
 * @example
 * const t = new Teardowns(); const pg = await startPostgres(t); …; await t.run()
 */
export class Teardowns implements TeardownOwner {
  readonly #fns: (() => unknown)[] = []

  teardown(fn: () => unknown): void {
    this.#fns.push(fn)
  }

  async run(): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) {
      try {
        await fn()
      } catch (e) {
        process.stderr.write(`cleanup failed: ${(e as Error).message}\n`)
      }
    }
  }
}
