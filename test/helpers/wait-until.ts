/**
 * The one poll for tests: every wait has a deadline and says what it waited for, so a broken
 * behaviour fails in seconds with a message instead of at tap's 300 s timeout.
 */

/** How long and how often {@link waitUntil} polls. */
export interface WaitOptions {
  /** Default 20 s. */
  readonly timeoutMs?: number
  /** Default 20 ms. */
  readonly intervalMs?: number
}

/**
 * Polls `check` until it returns true; throws `timed out after N ms waiting for <what>` otherwise.
 *
 * @example
 * await waitUntil('the first Workload API call', () => api.calls.length > 0)
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000
  const intervalMs = options.intervalMs ?? 20
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
