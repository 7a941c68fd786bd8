/**
 * A small Workload API client for the CLI: plaintext gRPC on the agent's Unix socket (SPIFFE.md
 * §5.1: no TLS, no client authentication; the agent identifies the caller by the kernel), with
 * the `workload.spiffe.io: true` security header on every call and a deadline on unary calls.
 * Failures become `WorkloadApiError`s carrying the gRPC status name for the CLI's messages.
 * gRPC and the proto are loaded on the first call, not on import, so a verb's `--help` and
 * its usage errors answer without them.
 */
import type { CallOptions, Metadata } from '@grpc/grpc-js'
import { errorText } from '../../common/errors/error-text.js'
import type { JWTSVIDResponse__Output } from '../../proto/generated/JWTSVIDResponse.js'
import type { ValidateJWTSVIDResponse__Output } from '../../proto/generated/ValidateJWTSVIDResponse.js'
import type { X509SVIDResponse__Output } from '../../proto/generated/X509SVIDResponse.js'
import { grpcStatusName } from '../../proto/grpc-status.js'
import type { SpiffeWorkloadAPIClient } from '../../proto/loader.js'

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
    return this.status === undefined ? 'ERROR' : grpcStatusName(this.status)
  }
}

function toError(err: unknown): WorkloadApiError {
  const code =
    typeof (err as { code?: unknown })?.code === 'number' ? (err as { code: number }).code : undefined
  const details = (err as { details?: unknown })?.details
  const message = typeof details === 'string' && details ? details : errorText(err)
  return new WorkloadApiError(message, code, { cause: err })
}

/** An open channel: the generated client and grpc-js's Metadata class. */
interface Connection {
  readonly client: SpiffeWorkloadAPIClient
  readonly Metadata: typeof Metadata
}

/**
 * A Workload API client on a Unix socket; it connects on its first call.
 *
 * @example
 * const client = new WorkloadClient('/tmp/sigil-agent/public/api.sock', 5000)
 * const res = await client.fetchX509()
 * client.close()
 */
export class WorkloadClient {
  readonly socketPath: string
  readonly #timeoutMs: number
  #connecting: Promise<Connection> | undefined
  #open: Connection | undefined
  #closed = false

  constructor(socketPath: string, timeoutMs: number) {
    this.socketPath = socketPath
    this.#timeoutMs = timeoutMs
  }

  #connect(): Promise<Connection> {
    this.#connecting ??= Promise.all([import('@grpc/grpc-js'), import('../../proto/loader.js')]).then(
      ([grpc, proto]) => {
        const Client = proto.loadWorkloadApi().Client
        const client = new Client(`unix:${this.socketPath}`, grpc.credentials.createInsecure())
        this.#open = { client, Metadata: grpc.Metadata }
        if (this.#closed) client.close()
        return this.#open
      },
    )
    return this.#connecting
  }

  /** The security header every Workload API call carries (SPIFFE.md §5.1). */
  #securityHeader(c: Connection): Metadata {
    const md = new c.Metadata()
    md.set('workload.spiffe.io', 'true')
    return md
  }

  #options(): CallOptions {
    return { deadline: new Date(Date.now() + this.#timeoutMs) }
  }

  /** The first message of FetchX509SVID (then the stream is cancelled). */
  async fetchX509(): Promise<X509SVIDResponse__Output> {
    const c = await this.#connect()
    return new Promise((resolve, reject) => {
      const call = c.client.FetchX509SVID({}, this.#securityHeader(c), this.#options())
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
  async watchX509(onUpdate: (msg: X509SVIDResponse__Output) => void, signal: AbortSignal): Promise<void> {
    const c = await this.#connect()
    return new Promise((resolve, reject) => {
      const call = c.client.FetchX509SVID({}, this.#securityHeader(c))
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
  async fetchJwt(audience: readonly string[], spiffeId = ''): Promise<JWTSVIDResponse__Output> {
    const c = await this.#connect()
    return new Promise((resolve, reject) => {
      c.client.FetchJWTSVID(
        { audience: [...audience], spiffe_id: spiffeId },
        this.#securityHeader(c),
        this.#options(),
        (err, res) => (err || !res ? reject(toError(err ?? new Error('empty answer'))) : resolve(res)),
      )
    })
  }

  /** ValidateJWTSVID. */
  async validateJwt(audience: string, svid: string, header = true): Promise<ValidateJWTSVIDResponse__Output> {
    const c = await this.#connect()
    return new Promise((resolve, reject) => {
      c.client.ValidateJWTSVID(
        { audience, svid },
        header ? this.#securityHeader(c) : new c.Metadata(),
        this.#options(),
        (err, res) => (err || !res ? reject(toError(err ?? new Error('empty answer'))) : resolve(res)),
      )
    })
  }

  /** Closes the channel (also one still being opened). */
  close(): void {
    this.#closed = true
    this.#open?.client.close()
  }
}
