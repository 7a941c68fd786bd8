/**
 * A bench-side SPIFFE Workload API client on its own channel (one Unix-socket connection per
 * client): the first message of a new FetchX509SVID stream, FetchJWTSVID, and a long-lived
 * FetchX509SVID stream that keeps the caller's identity cached in the agent.
 */
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js'
import type { JWTSVIDResponse__Output } from '../../proto/generated/JWTSVIDResponse.js'
import type { X509SVIDResponse__Output } from '../../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi, type SpiffeWorkloadAPIClient } from '../../proto/loader.js'
import { OWN_CHANNEL } from './echo-service.js'

const api = loadWorkloadApi()

/** The encoded size in bytes of one X509SVIDResponse (what the agent sends). */
export function x509ResponseBytes(msg: X509SVIDResponse__Output): number {
  return api.service.FetchX509SVID.responseSerialize(msg).length
}

/** A Workload API client on its own connection. */
export class WorkloadClient {
  readonly #client: SpiffeWorkloadAPIClient
  readonly #metadata = new Metadata()

  constructor(socketPath: string) {
    this.#client = new api.Client(`unix:${socketPath}`, credentials.createInsecure(), OWN_CHANNEL)
    this.#metadata.set('workload.spiffe.io', 'true')
  }

  /** Opens a new FetchX509SVID stream; resolves its first message and cancels the stream. */
  fetchX509First(): Promise<X509SVIDResponse__Output> {
    return new Promise((resolve, reject) => {
      const call = this.#client.FetchX509SVID({}, this.#metadata)
      let done = false
      call.on('data', (msg: X509SVIDResponse__Output) => {
        done = true
        call.cancel()
        resolve(msg)
      })
      call.on('error', (err: ServiceError) => {
        if (!(done && err.code === status.CANCELLED)) reject(err)
      })
      call.on('end', () => done || reject(new Error('FetchX509SVID ended without a message')))
    })
  }

  /** One FetchJWTSVID call. */
  fetchJwt(audience: readonly string[]): Promise<JWTSVIDResponse__Output> {
    return new Promise((resolve, reject) =>
      this.#client.FetchJWTSVID(
        { audience: [...audience] },
        this.#metadata,
        (err: ServiceError | null, res?: JWTSVIDResponse__Output) =>
          err || !res ? reject(err ?? new Error('no response')) : resolve(res),
      ),
    )
  }

  /**
   * Opens a FetchX509SVID stream and keeps it open; `onMessage` gets every message with the
   * time it arrived. Returns a function that cancels it.
   */
  watchX509(
    onMessage: (msg: X509SVIDResponse__Output) => void,
    onError: (err: ServiceError) => void,
  ): () => void {
    const call = this.#client.FetchX509SVID({}, this.#metadata)
    let cancelled = false
    call.on('data', onMessage)
    call.on('error', (err: ServiceError) => {
      if (!(cancelled && err.code === status.CANCELLED)) onError(err)
    })
    return () => {
      cancelled = true
      call.cancel()
    }
  }

  close(): void {
    this.#client.close()
  }
}

/** Retries `fn` every 200 ms until it resolves or `timeoutMs` passes (then rethrows). */
export async function eventually<T>(fn: () => Promise<T>, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > end) throw new Error(`${what}: ${(err as Error).message}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}
