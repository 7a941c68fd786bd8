/**
 * The start-up rule shared by the sources: resolve on the first update; keep waiting through
 * failures the watch retries; reject on a final failure or when the caller's signal aborts,
 * with the last failure as the cause.
 */
import { SigilError } from '../certs/errors.js'

/** What {@link firstUpdate} drives. */
export interface FirstUpdateOptions {
  /** Names what is awaited, for the error message ("X509-SVID"). */
  readonly what: string
  readonly signal?: AbortSignal | undefined
  /** Starts the watch; calls `ready` on each update and `failed` on each failure. */
  readonly start: (ready: () => void, failed: (error: SigilError, final: boolean) => void) => void
  /** Undoes `start` when the wait fails. */
  readonly stop: () => void
}

/**
 * Resolves after the first `ready()`; rejects on a final failure or an abort.
 *
 * @example
 * await firstUpdate({ what: 'JWT bundles', signal, start: (ready, failed) => watch(ready, failed), stop: close })
 */
export function firstUpdate(opts: FirstUpdateOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let lastError: SigilError | undefined
    let settled = false
    const settle = (err?: unknown): void => {
      if (settled) return
      settled = true
      opts.signal?.removeEventListener('abort', onAbort)
      if (err === undefined) {
        resolve()
        return
      }
      opts.stop()
      reject(err)
    }
    const onAbort = (): void => {
      const why = lastError?.message ?? 'aborted'
      const cause = lastError ?? opts.signal?.reason
      settle(new SigilError('ERR_UNAVAILABLE', `no ${opts.what} yet: ${why}`, { cause }))
    }
    if (opts.signal?.aborted) {
      onAbort()
      return
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    opts.start(
      () => settle(),
      (error, final) => {
        lastError = error
        if (final) settle(error)
      },
    )
  })
}
