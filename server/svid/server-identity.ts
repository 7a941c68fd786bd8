/**
 * The server's own X509-SVID, `spiffe://<td>/sigil/server`, which the agent API (TLS) and the
 * `https_spiffe` bundle endpoint present. The key is generated in memory and never written
 * anywhere; the SVID is signed by the server's own CA and renewed, with a fresh key, at half
 * its lifetime or as soon as the CA's active signing certificate changes (so the served chain
 * always comes from the active CA). Listeners learn of every new SVID, so TLS servers pick it
 * up without a restart.
 *
 * Trust: the SVID proves to agents that they talk to this trust domain's server; the CA it
 * comes from is the root of trust, so nothing here is read from outside the process.
 */
import type { KeyObject } from 'node:crypto'
import { SigilError } from '../../certs/errors.js'
import { generateKeyPair, type KeyType } from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { runEvery } from '../../common/loop/run-every.js'

/** Path of the server's SPIFFE ID inside its trust domain. */
export const SERVER_ID_PATH = '/sigil/server'
/** Renew once this fraction of the SVID's lifetime has passed. */
export const RENEW_AT_FRACTION = 0.5
/** Default lifetime of the server SVID. */
export const DEFAULT_SERVER_SVID_TTL_SECONDS = 3600
/** How often the loop re-checks, by default. */
export const DEFAULT_CHECK_INTERVAL_MS = 1000
/** Longest pause between retries after failures. */
export const MAX_RETRY_BACKOFF_MS = 30_000

/** The two CA calls the server identity needs (CaManager satisfies it). */
export interface ServerIdentityCa {
  /** With `validate`, the CA checks the SVID against the bundle before returning it. */
  signX509Svid(req: { spiffeId: SpiffeId; publicKey: KeyObject; ttlSeconds: number; validate?: boolean }): {
    readonly chainDer: readonly Buffer[]
    readonly notBefore: Date
    readonly notAfter: Date
    readonly serialHex: string
  }
  /** The active CA certificate first. */
  caCertificateChain(): Buffer[]
}

/** Options for {@link ServerIdentity}. */
export interface ServerIdentityConfig {
  readonly trustDomain: TrustDomain
  readonly ca: ServerIdentityCa
  readonly clock: () => Date
  readonly logger: Log
  /** Requested SVID lifetime (clamped by the CA); default {@link DEFAULT_SERVER_SVID_TTL_SECONDS}. */
  readonly ttlSeconds?: number
  readonly keyType?: KeyType
  /** Loop period; default {@link DEFAULT_CHECK_INTERVAL_MS}. */
  readonly checkIntervalMs?: number
}

/** The server's current SVID and key. */
export interface ServerSvid {
  readonly spiffeId: SpiffeId
  /** Leaf first, then intermediates up to (not including) a bundle root. */
  readonly chainDer: Buffer[]
  readonly privateKey: KeyObject
  readonly notBefore: Date
  readonly notAfter: Date
  readonly serialHex: string
}

/** A function told about each new server SVID. */
export type ServerSvidListener = (svid: ServerSvid) => void

/**
 * Pure renewal decision: renew at {@link RENEW_AT_FRACTION} of the lifetime, or when the CA
 * that signed the SVID is no longer the active one.
 *
 * @example
 * shouldRenewServerSvid(now, svid, svidSignedBy, ca.caCertificateChain()[0])
 */
export function shouldRenewServerSvid(
  now: Date,
  svid: { readonly notBefore: Date; readonly notAfter: Date },
  signedBy: Buffer,
  activeCa: Buffer | undefined,
): boolean {
  const lifetime = svid.notAfter.getTime() - svid.notBefore.getTime()
  if (now.getTime() >= svid.notBefore.getTime() + lifetime * RENEW_AT_FRACTION) return true
  return activeCa !== undefined && !activeCa.equals(signedBy)
}

/**
 * Holds and renews the server's X509-SVID.
 *
 * @example
 * const identity = new ServerIdentity({ trustDomain, ca, clock, logger })
 * await identity.init()
 * void identity.run(signal)
 * identity.onChange(({ chainDer, privateKey }) => tlsServer.setSecureContext(...))
 */
export class ServerIdentity {
  /** `spiffe://<td>/sigil/server`. */
  readonly spiffeId: SpiffeId
  readonly #cfg: ServerIdentityConfig
  readonly #listeners = new Set<ServerSvidListener>()
  #current: ServerSvid | undefined
  #signedBy: Buffer | undefined
  #renewing: Promise<void> | undefined
  #failures = 0

  constructor(config: ServerIdentityConfig) {
    if (typeof config?.ca?.signX509Svid !== 'function') throw new TypeError('ca must sign X509-SVIDs')
    if (typeof config.clock !== 'function') throw new TypeError('clock must be a function')
    const ttl = config.ttlSeconds ?? DEFAULT_SERVER_SVID_TTL_SECONDS
    if (!Number.isSafeInteger(ttl) || ttl < 2) throw new TypeError('ttlSeconds must be a whole number >= 2')
    this.#cfg = config
    this.spiffeId = SpiffeId.fromPath(config.trustDomain, SERVER_ID_PATH)
  }

  /** Mints the first SVID unless there is one. Throws when the CA cannot sign. */
  async init(): Promise<void> {
    if (!this.#current) await this.renew()
  }

  /** The current SVID; throws `ERR_UNAVAILABLE` before {@link init}. */
  current(): ServerSvid {
    if (!this.#current) throw new SigilError('ERR_UNAVAILABLE', 'the server SVID is not minted yet')
    return this.#current
  }

  /** Calls `listener` with every new SVID (not the current one); returns an unsubscribe function. */
  onChange(listener: ServerSvidListener): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function')
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** How the renewal loop is doing (for the health check). */
  health(): { ok: boolean; consecutiveFailures: number } {
    const usable = !!this.#current && this.#cfg.clock() < this.#current.notAfter
    return { ok: usable && this.#failures < 3, consecutiveFailures: this.#failures }
  }

  /** Mints a new SVID with a new key now and tells the listeners. Concurrent calls share one mint. */
  renew(): Promise<void> {
    this.#renewing ??= this.#mint().finally(() => {
      this.#renewing = undefined
    })
    return this.#renewing
  }

  /** True when the current SVID is due for renewal (or missing). */
  needsRenewal(now: Date = this.#cfg.clock()): boolean {
    if (!this.#current || !this.#signedBy) return true
    return shouldRenewServerSvid(now, this.#current, this.#signedBy, this.#cfg.ca.caCertificateChain()[0])
  }

  /** Renews whenever due until `signal` aborts. Never throws: failures are logged, counted and retried. */
  run(signal: AbortSignal): Promise<void> {
    return runEvery(
      signal,
      async () => {
        try {
          if (this.needsRenewal()) await this.renew()
          this.#failures = 0
        } catch (err) {
          this.#failures++
          this.#cfg.logger.error(
            { err: errorText(err), consecutive_failures: this.#failures },
            'server SVID renewal failed',
          )
          return false
        }
      },
      {
        intervalMs: this.#cfg.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS,
        maxBackoffMs: MAX_RETRY_BACKOFF_MS,
      },
    )
  }

  async #mint(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair(this.#cfg.keyType ?? 'ec-p256')
    const signedBy = this.#cfg.ca.caCertificateChain()[0]
    const minted = this.#cfg.ca.signX509Svid({
      spiffeId: this.spiffeId,
      publicKey,
      ttlSeconds: this.#cfg.ttlSeconds ?? DEFAULT_SERVER_SVID_TTL_SECONDS,
      validate: true,
    })
    if (!signedBy) throw new SigilError('ERR_UNAVAILABLE', 'the CA has no active certificate')
    const svid: ServerSvid = {
      spiffeId: this.spiffeId,
      chainDer: [...minted.chainDer],
      privateKey,
      notBefore: minted.notBefore,
      notAfter: minted.notAfter,
      serialHex: minted.serialHex,
    }
    this.#current = svid
    this.#signedBy = signedBy
    this.#cfg.logger.info(
      {
        spiffe_id: this.spiffeId.toString(),
        serial: svid.serialHex,
        expires_at: svid.notAfter.toISOString(),
      },
      'server X509-SVID minted',
    )
    for (const listener of this.#listeners) {
      try {
        listener(svid)
      } catch (err) {
        this.#cfg.logger.warn({ err: errorText(err) }, 'server SVID listener failed')
      }
    }
  }
}
