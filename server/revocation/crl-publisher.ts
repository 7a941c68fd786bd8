/**
 * Keeps the server's CRLs current: one RFC 5280 CRL per X.509 CA that signed still-valid SVIDs
 * (built by the CA manager, which keeps the keys), rebuilt at once on every revocation of an
 * X.509 serial (not for JWT jtis or task txns, which no CRL names) and
 * otherwise every `refreshMs` (so `nextUpdate`, `refreshMs + validity margin` ahead, never
 * lapses and CA rotations are picked up); plus, with an upstream CA, the operator's upstream
 * CRL file (re-read every minute; the last good copy is kept when it cannot be read), so that
 * verifiers checking the whole chain (`openssl verify -crl_check_all`, nginx `ssl_crl`) find a
 * CRL for every certificate. Served at the bundle endpoint (`GET /crl`) and pushed to agents
 * for the Workload API's `crl` fields.
 *
 * @example
 * const crls = new CrlPublisher({ ca, revocations, clock, logger })
 * crls.rebuild(); life.background('crl', crls.run(life.signal))
 * crls.current().crls // DER CRLs: ours, then the upstream ones
 */
import { readFile, stat } from 'node:fs/promises'
import { SigilError } from '../../certs/errors.js'
import type { RevokedSerial } from '../../certs/x509svid/crl.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { runEvery } from '../../common/loop/run-every.js'
import type { CaManager } from '../ca/ca-manager.js'
import type { RevocationList } from './revocation-list.js'

/** Default time between rebuilds when nothing changes. */
export const DEFAULT_CRL_REFRESH_MS = 10 * 60_000
/** `nextUpdate` is this long after `thisUpdate`: three refreshes, so a late rebuild never lets it lapse. */
export const CRL_VALIDITY_REFRESHES = 3
/** How often the upstream CRL file is checked. */
export const UPSTREAM_CRL_CHECK_MS = 60_000

/** The CRLs as last built. */
export interface CrlSet {
  /** Our CRLs (one per CA) followed by the upstream CA's, DER. */
  readonly crls: readonly Buffer[]
  /** The revocation sequence they reflect. */
  readonly sequence: number
  readonly thisUpdate: Date
  readonly nextUpdate: Date
}

/** How to build a {@link CrlPublisher}. */
export interface CrlPublisherOptions {
  readonly ca: Pick<CaManager, 'signCrls'>
  readonly revocations: Pick<RevocationList, 'snapshot' | 'sequence' | 'subscribe'>
  readonly clock: () => Date
  readonly logger: Log
  /** The operator's upstream CRL file (PEM or DER), if any. */
  readonly upstreamCrlFile?: string
  readonly refreshMs?: number
}

/** Builds and holds the CRLs (see the module comment). */
export class CrlPublisher {
  readonly #opts: CrlPublisherOptions
  readonly #refreshMs: number
  readonly #listeners = new Set<(set: CrlSet) => void>()
  #current: CrlSet | undefined
  #upstream: Buffer[] = []
  #upstreamMtimeMs = -1
  #lastNumber = 0n

  constructor(opts: CrlPublisherOptions) {
    this.#opts = opts
    this.#refreshMs = opts.refreshMs ?? DEFAULT_CRL_REFRESH_MS
  }

  /** The CRLs as last built (builds them on first use). */
  current(): CrlSet {
    return this.#current ?? this.rebuild()
  }

  /** Rebuilds our CRLs now and tells listeners. */
  rebuild(): CrlSet {
    const thisUpdate = this.#opts.clock()
    const nextUpdate = new Date(thisUpdate.getTime() + CRL_VALIDITY_REFRESHES * this.#refreshMs)
    const revoked: RevokedSerial[] = []
    for (const r of this.#opts.revocations.snapshot()) {
      if (r.kind === 'x509_serial' && r.expiresAt > thisUpdate) {
        revoked.push({ serialHex: r.value, revokedAt: r.revokedAt })
      }
    }
    // RFC 5280 §5.2.3: increasing per issuer; the time in ms, bumped if the clock stood still
    const byTime = BigInt(thisUpdate.getTime())
    this.#lastNumber = byTime > this.#lastNumber ? byTime : this.#lastNumber + 1n
    const ours = this.#opts.ca.signCrls({ revoked, thisUpdate, nextUpdate, crlNumber: this.#lastNumber })
    const set: CrlSet = {
      crls: [...ours, ...this.#upstream],
      sequence: this.#opts.revocations.sequence,
      thisUpdate,
      nextUpdate,
    }
    this.#current = set
    for (const l of this.#listeners) l(set)
    return set
  }

  /** Calls `listener` after every rebuild; returns the unsubscribe function. */
  onChange(listener: (set: CrlSet) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Re-reads the upstream CRL file if it changed; resolves whether the CRLs changed. */
  async reloadUpstream(): Promise<boolean> {
    const file = this.#opts.upstreamCrlFile
    if (file === undefined) return false
    const mtime = (await stat(file)).mtimeMs
    if (mtime === this.#upstreamMtimeMs) return false
    const crls = parseCrlFile(await readFile(file))
    this.#upstream = crls
    this.#upstreamMtimeMs = mtime
    this.#opts.logger.info({ file, crls: crls.length }, 'upstream CRL loaded')
    return true
  }

  /** Rebuilds on every revocation and on a timer until `signal` aborts; never throws. */
  async run(signal: AbortSignal): Promise<void> {
    // only a new X.509 serial changes what a CRL says: a JWT jti or a task's txn (every task end)
    // would otherwise rebuild the CRLs and push a new X509SVIDResponse to every workload stream
    const unsubscribe = this.#opts.revocations.subscribe((change) => {
      if (change.added.some((r) => r.kind === 'x509_serial')) this.#safeRebuild()
    })
    try {
      await runEvery(
        signal,
        async () => {
          let changed = false
          try {
            changed = await this.reloadUpstream()
          } catch (err) {
            this.#opts.logger.warn(
              { file: this.#opts.upstreamCrlFile, err: errorText(err) },
              'cannot read the upstream CRL; keeping the last good copy',
            )
          }
          const built = this.#current?.thisUpdate.getTime() ?? 0
          if (changed || this.#opts.clock().getTime() - built >= this.#refreshMs) this.#safeRebuild()
        },
        { intervalMs: Math.min(UPSTREAM_CRL_CHECK_MS, this.#refreshMs), maxBackoffMs: this.#refreshMs },
      )
    } finally {
      unsubscribe()
    }
  }

  #safeRebuild(): void {
    try {
      this.rebuild()
    } catch (err) {
      this.#opts.logger.error({ err: errorText(err) }, 'cannot build the CRLs')
    }
  }
}

/** DER CRLs from a file holding one DER CRL or any number of PEM `X509 CRL` blocks. */
export function parseCrlFile(bytes: Buffer): Buffer[] {
  const text = bytes.toString('latin1')
  if (text.includes('-----BEGIN X509 CRL-----')) {
    const out: Buffer[] = []
    for (const m of text.matchAll(/-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/g)) {
      out.push(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'))
    }
    return out
  }
  if (bytes[0] === 0x30) return [bytes]
  throw new SigilError('ERR_CONFIG_INVALID', 'upstream-crl: neither a PEM X509 CRL nor a DER CRL')
}
