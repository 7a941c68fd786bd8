/**
 * A small Workload API client for the CLI: plaintext gRPC on the agent's Unix socket (SPIFFE.md
 * §5.1: no TLS, no client authentication; the agent identifies the caller by the kernel), with
 * the `workload.spiffe.io: true` security header on every call and a deadline on unary calls.
 * Failures become `WorkloadApiError`s carrying the gRPC status name for the CLI's messages.
 */
import { type CallOptions, credentials, Metadata, status as Status } from '@grpc/grpc-js'
import { errorText } from '../../common/errors/error-text.js'
import type { JWTSVIDResponse__Output } from '../../proto/generated/JWTSVIDResponse.js'
import type { ValidateJWTSVIDResponse__Output } from '../../proto/generated/ValidateJWTSVIDResponse.js'
import type { X509SVIDResponse__Output } from '../../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi, type SpiffeWorkloadAPIClient } from '../../proto/loader.js'

/** A failed Workload API call. */
export class WorkloadApiError extends Error {
  /** gRPC status code (numeric), or undefined for non-gRPC failures. */
  readonly status: number | undefined
  constructor(message: string, status: number | undefined, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'WorkloadApiError'
    this.status = status
  }

  /** The status name, e.g. `PERMISSION_DENIED`. */
  get statusName(): string {
    return this.status === undefined ? 'ERROR' : (Status[this.status] ?? String(this.status))
  }
}

function toError(err: unknown): WorkloadApiError {
  const code =
    typeof (err as { code?: unknown })?.code === 'number' ? (err as { code: number }).code : undefined
  const details = (err as { details?: unknown })?.details
  const message = typeof details === 'string' && details ? details : errorText(err)
  return new WorkloadApiError(message, code, { cause: err })
}

/** The security header every Workload API call carries. */
export function securityHeader(): Metadata {
  const md = new Metadata()
  md.set('workload.spiffe.io', 'true')
  return md
}

/**
 * A Workload API client on a Unix socket.
 *
 * @example
 * const client = new WorkloadClient('/tmp/sigil-agent/public/api.sock', 5000)
 * const res = await client.fetchX509()
 * client.close()
 */
export class WorkloadClient {
  readonly socketPath: string
  readonly #timeoutMs: number
  readonly #client: SpiffeWorkloadAPIClient

  constructor(socketPath: string, timeoutMs: number) {
    this.socketPath = socketPath
    this.#timeoutMs = timeoutMs
    this.#client = new (loadWorkloadApi().Client)(`unix:${socketPath}`, credentials.createInsecure())
  }

  #options(): CallOptions {
    return { deadline: new Date(Date.now() + this.#timeoutMs) }
  }

  /** The first message of FetchX509SVID (then the stream is cancelled). */
  fetchX509(): Promise<X509SVIDResponse__Output> {
    return new Promise((resolve, reject) => {
      const call = this.#client.FetchX509SVID({}, securityHeader(), this.#options())
      let done = false
      call.on('data', (msg: X509SVIDResponse__Output) => {
        if (done) return
        done = true
        resolve(msg)
        call.cancel()
      })
      call.on('error', (err) => {
        if (!done) {
          done = true
          reject(toError(err))
        }
      })
      call.on('end', () => {
        if (!done) {
          done = true
          reject(new WorkloadApiError('the stream ended without an answer', undefined))
        }
      })
    })
  }

  /**
   * Calls `onUpdate` with every FetchX509SVID message until `signal` aborts (resolves) or the
   * stream fails (rejects). No deadline: a watch lasts as long as the caller wants.
   */
  watchX509(onUpdate: (msg: X509SVIDResponse__Output) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const call = this.#client.FetchX509SVID({}, securityHeader())
      const stop = () => call.cancel()
      if (signal.aborted) stop()
      signal.addEventListener('abort', stop, { once: true })
      call.on('data', (msg: X509SVIDResponse__Output) => onUpdate(msg))
      call.on('error', (err) => {
        signal.removeEventListener('abort', stop)
        if (signal.aborted) resolve()
        else reject(toError(err))
      })
      call.on('end', () => {
        signal.removeEventListener('abort', stop)
        if (signal.aborted) resolve()
        else reject(new WorkloadApiError('the agent ended the stream', undefined))
      })
    })
  }

  /** FetchJWTSVID. */
  fetchJwt(audience: readonly string[], spiffeId = ''): Promise<JWTSVIDResponse__Output> {
    return new Promise((resolve, reject) => {
      this.#client.FetchJWTSVID(
        { audience: [...audience], spiffe_id: spiffeId },
        securityHeader(),
        this.#options(),
        (err, res) => (err || !res ? reject(toError(err ?? new Error('empty answer'))) : resolve(res)),
      )
    })
  }

  /** ValidateJWTSVID. */
  validateJwt(audience: string, svid: string, header = true): Promise<ValidateJWTSVIDResponse__Output> {
    return new Promise((resolve, reject) => {
      this.#client.ValidateJWTSVID(
        { audience, svid },
        header ? securityHeader() : new Metadata(),
        this.#options(),
        (err, res) => (err || !res ? reject(toError(err ?? new Error('empty answer'))) : resolve(res)),
      )
    })
  }

  close(): void {
    this.#client.close()
  }
}
