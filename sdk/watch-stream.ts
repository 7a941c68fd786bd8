/**
 * One durable watch over a server-streaming Workload API call: open the stream, hand every
 * message to the consumer, and when the stream fails (or ends, which the agent does only
 * when shutting down) report it and open a new one after a {@link Backoff} delay. The
 * delay resets after each good message; `InvalidArgument` stops the watch for good (the
 * agent refused the request itself, retrying cannot help, SPIFFE.md §5.5).
 */
import { SigilError } from '../certs/errors.js'
import { Backoff, type BackoffOptions } from './backoff.js'
import { isTerminalStatus, workloadApiError } from './workload-api-error.js'

/** The part of a gRPC client stream a watch uses. */
export interface WatchableCall<T> {
  on(event: 'data', listener: (msg: T) => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'end', listener: () => void): unknown
  cancel(): void
}

/** Called with each failure; `willRetry` is false once the watch has stopped. */
export type WatchErrorListener = (error: SigilError, willRetry: boolean) => void

/** What {@link watchStream} needs. */
export interface WatchStreamOptions<T> {
  /** The RPC name, for error messages. */
  readonly method: string
  /** Opens a new call. */
  readonly open: () => WatchableCall<T>
  /** Handles one message; a throw is reported as a (retrying) error and the stream stays open. */
  readonly onMessage: (msg: T) => void
  readonly onError: WatchErrorListener
  readonly backoff?: BackoffOptions
}

/**
 * Starts a durable watch; returns the function that cancels it.
 *
 * @example
 * const cancel = watchStream({ method: 'FetchJWTBundles', open: () => client.FetchJWTBundles({}, md),
 *   onMessage: (m) => use(m), onError: (e, retrying) => log(e, retrying) })
 */
export function watchStream<T>(opts: WatchStreamOptions<T>): () => void {
  const backoff = new Backoff(opts.backoff)
  let cancelled = false
  let call: WatchableCall<T> | undefined
  let timer: NodeJS.Timeout | undefined

  const connect = (): void => {
    timer = undefined
    if (cancelled) return
    let finished = false
    const finish = (err: unknown): void => {
      if (finished || cancelled) return
      finished = true
      const error = workloadApiError(opts.method, err)
      const retry = !isTerminalStatus(error)
      opts.onError(error, retry)
      if (retry && !cancelled) timer = setTimeout(connect, backoff.next())
    }
    try {
      call = opts.open()
    } catch (err) {
      finish(err)
      return
    }
    call.on('data', (msg: T) => {
      if (cancelled || finished) return
      backoff.reset()
      try {
        opts.onMessage(msg)
      } catch (err) {
        const error =
          err instanceof SigilError
            ? err
            : new SigilError('ERR_UNAVAILABLE', `${opts.method}: could not use a message`, { cause: err })
        opts.onError(error, true)
      }
    })
    call.on('error', finish)
    call.on('end', () => finish(new Error('the stream ended')))
  }

  connect()
  return () => {
    if (cancelled) return
    cancelled = true
    if (timer) clearTimeout(timer)
    call?.cancel()
  }
}
