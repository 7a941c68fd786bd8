/**
 * A one-shot fetch on a streaming Workload API call: the first message answers, then the
 * stream is cancelled (what go-spiffe's `FetchX509Context` and the CLI's `fetch` do).
 */
import type { WatchableCall } from './watch-stream.js'
import { workloadApiError } from './workload-api-error.js'

/**
 * Resolves `convert(first message)`; rejects with the call's failure as a `SigilError`, or
 * when the stream ends without a message, or when `convert` throws.
 *
 * @example
 * const ctx = await firstMessage('FetchX509SVID', client.FetchX509SVID({}, md, { deadline }), x509ContextFromResponse)
 */
export function firstMessage<M, R>(
  method: string,
  call: WatchableCall<M>,
  convert: (msg: M) => R,
): Promise<R> {
  return new Promise((resolve, reject) => {
    let done = false
    call.on('data', (msg: M) => {
      if (done) return
      done = true
      call.cancel()
      try {
        resolve(convert(msg))
      } catch (e) {
        reject(e)
      }
    })
    call.on('error', (err) => {
      if (!done) reject(workloadApiError(method, err))
      done = true
    })
    call.on('end', () => {
      if (!done) reject(workloadApiError(method, new Error('the stream ended without a message')))
      done = true
    })
  })
}
