/**
 * The server's revocation list: the one place that revokes credentials (X.509 serials,
 * JWT `jti`s, Txn-Token `txn`s). Every revocation is written to the datastore first (so a
 * restart keeps it), then held in memory for O(1) lookups, snapshots and deltas, and then
 * announced to subscribers (the agent push stream, the CRL cache, the bundle endpoint).
 * Each entry is kept only until the credential it names expires; `run()` prunes the rest.
 *
 * Trust: callers are the admin API and server components (already authorized); values are
 * opaque strings. Revoking something nobody issued is accepted and harmless.
 *
 * @example
 * const revocations = await RevocationList.load({ datastore, clock, logger, unknownCredentialTtlMs })
 * const seq = await revocations.revoke({ kind: 'txn', value: taskId, expiresAt, reason: 'task ended' })
 * const stop = revocations.subscribe((change) => push(change.added))
 */
import { SigilError } from '../../certs/errors.js'
import { normalizeSerial } from '../../certs/x509svid/crl.js'
import type { Log } from '../../common/logging/logger.js'
import { runEvery } from '../../common/loop/run-every.js'
import type { DataStore, RevocationKind, RevocationRecord } from '../datastore/datastore.js'

/** One revocation request; `expiresAt` defaults to the issuance record's `notAfter` (else a safe bound). */
export interface RevokeRequest {
  readonly kind: RevocationKind
  readonly value: string
  readonly reason?: string
  readonly expiresAt?: Date
}

/** What subscribers hear after each change: the new sequence and the records added or extended. */
export interface RevocationChange {
  readonly sequence: number
  readonly added: readonly RevocationRecord[]
}

/** Re-exported for the admin API and CLI (the one canonical serial spelling lives in certs/). */
export { normalizeSerial }

/** The datastore operations the revocation list uses. */
export type RevocationDataStore = Pick<
  DataStore,
  'addRevocations' | 'listRevocations' | 'revocationSequence' | 'pruneRevocations' | 'listIssuedSvids'
>

/** How to build a {@link RevocationList}. */
export interface RevocationListOptions {
  readonly datastore: RevocationDataStore
  readonly clock: () => Date
  readonly logger: Log
  /**
   * How long to keep a revocation of a credential with no issuance record (no known expiry):
   * no SVID outlives the CA that signed it, so the CA TTL is a safe bound.
   */
  readonly unknownCredentialTtlMs: number
  /** Pause between prunes (default 60 s). */
  readonly pruneIntervalMs?: number
}

/** The longest value accepted (a serial is ≤ 40 hex digits, a jti or txn a UUID or so). */
export const MAX_REVOCATION_VALUE_LENGTH = 256
/** The longest reason accepted. */
export const MAX_REVOCATION_REASON_LENGTH = 1024

const ISSUED_KIND: Partial<Record<RevocationKind, 'x509' | 'jwt'>> = { x509_serial: 'x509', jwt_jti: 'jwt' }

/** The in-memory revocation list over the datastore (see the module comment). */
export class RevocationList {
  readonly #opts: RevocationListOptions
  /** Live records by `${kind}\0${value}`. */
  readonly #byKey = new Map<string, RevocationRecord>()
  readonly #listeners = new Set<(change: RevocationChange) => void>()
  #sequence: number
  /** A promise chain that keeps writes in order, so sequence numbers reach listeners in order. */
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(opts: RevocationListOptions, records: readonly RevocationRecord[], sequence: number) {
    this.#opts = opts
    this.#sequence = sequence
    for (const r of records) this.#byKey.set(key(r.kind, r.value), r) // records come by ascending sequence
  }

  /** Loads every stored revocation. */
  static async load(opts: RevocationListOptions): Promise<RevocationList> {
    const [records, sequence] = await Promise.all([
      opts.datastore.listRevocations(),
      opts.datastore.revocationSequence(),
    ])
    return new RevocationList(opts, records, sequence)
  }

  /** The highest sequence number given so far (0 before the first revocation). */
  get sequence(): number {
    return this.#sequence
  }

  /** How many revocations are held. */
  get size(): number {
    return this.#byKey.size
  }

  /** True when this credential is revoked (and its revocation has not expired yet). */
  isRevoked(kind: RevocationKind, value: string): boolean {
    const r = this.#byKey.get(key(kind, value))
    return r !== undefined && r.expiresAt.getTime() > this.#opts.clock().getTime()
  }

  /** The held record for a credential, or `undefined`. */
  get(kind: RevocationKind, value: string): RevocationRecord | undefined {
    return this.#byKey.get(key(kind, value))
  }

  /** Every held revocation, by ascending sequence (the Map's insertion order). */
  snapshot(): RevocationRecord[] {
    return [...this.#byKey.values()]
  }

  /** Held revocations with `sequence > since`, ascending; cheap when nothing is newer. */
  since(since: number): RevocationRecord[] {
    if (since >= this.#sequence) return []
    return this.snapshot().filter((r) => r.sequence > since)
  }

  /**
   * Revokes one or more credentials (stored before this resolves) and resolves the new
   * sequence number. Rejects `ERR_INVALID_ARGUMENT` for an empty or oversized value or reason.
   */
  async revoke(requests: RevokeRequest | readonly RevokeRequest[]): Promise<number> {
    const list: readonly RevokeRequest[] = Array.isArray(requests) ? requests : [requests as RevokeRequest]
    return this.#serialize(async () => {
      const now = this.#opts.clock()
      const inputs = []
      for (const r of list) {
        checkRequest(r)
        const value = r.kind === 'x509_serial' ? normalizeSerial(r.value) : r.value
        inputs.push({
          kind: r.kind,
          value,
          reason: r.reason ?? '',
          expiresAt: r.expiresAt ?? (await this.#expiryOf(r.kind, value, now)),
        })
      }
      const stored = await this.#opts.datastore.addRevocations(inputs, now)
      const fresh = stored.filter((r) => r.sequence > this.#sequence)
      // another server on the datastore may have taken the numbers in between: read them too
      const gap = fresh.length > 0 && Math.min(...fresh.map((r) => r.sequence)) > this.#sequence + 1
      this.#take(gap ? await this.#opts.datastore.listRevocations({ since: this.#sequence }) : fresh)
      return this.#sequence
    })
  }

  /**
   * Revokes every live SVID issued to `spiffeId` (X.509 serials and JWT jtis from the
   * issuance record); resolves the sequence and what was revoked (nothing when none is live).
   */
  async revokeSpiffeId(
    spiffeId: string,
    reason = '',
  ): Promise<{ sequence: number; revoked: RevocationRecord[] }> {
    const now = this.#opts.clock()
    const live = (await this.#opts.datastore.listIssuedSvids({ spiffeId })).filter(
      (r) => r.notAfter.getTime() > now.getTime(),
    )
    const requests: RevokeRequest[] = live.map((r) => ({
      kind: r.kind === 'x509' ? 'x509_serial' : 'jwt_jti',
      value: r.serialOrJti,
      reason,
      expiresAt: r.notAfter,
    }))
    if (requests.length === 0) return { sequence: this.#sequence, revoked: [] }
    const sequence = await this.revoke(requests)
    const revoked = requests.flatMap(
      (r) => this.get(r.kind, r.kind === 'x509_serial' ? normalizeSerial(r.value) : r.value) ?? [],
    )
    return { sequence, revoked }
  }

  /**
   * Takes in the revocations another server on the same datastore added since this list's
   * sequence (the change feed and a periodic reconcile call it); resolves how many were new.
   * Subscribers hear them like local ones, so agents of every server get them pushed.
   */
  async refresh(): Promise<number> {
    return this.#serialize(async () => {
      if ((await this.#opts.datastore.revocationSequence()) <= this.#sequence) return 0
      return this.#take(await this.#opts.datastore.listRevocations({ since: this.#sequence }))
    })
  }

  /** Holds, logs and announces records newer than the held sequence; resolves how many. */
  #take(records: readonly RevocationRecord[]): number {
    const added = records.filter((r) => r.sequence > this.#sequence).sort((a, b) => a.sequence - b.sequence)
    for (const r of added) {
      // delete first: the Map's order stays the ascending sequence order
      this.#byKey.delete(key(r.kind, r.value))
      this.#byKey.set(key(r.kind, r.value), r)
    }
    if (added.length === 0) return 0
    this.#sequence = Math.max(this.#sequence, ...added.map((r) => r.sequence))
    for (const r of added) {
      this.#opts.logger.info(
        { kind: r.kind, value: r.value, sequence: r.sequence, reason: r.reason },
        'credential revoked',
      )
    }
    this.#notify({ sequence: this.#sequence, added })
    return added.length
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: (change: RevocationChange) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Drops expired revocations from the datastore and from memory; resolves how many. */
  async prune(): Promise<number> {
    return this.#serialize(async () => {
      const now = this.#opts.clock()
      const n = await this.#opts.datastore.pruneRevocations(now)
      for (const [k, r] of this.#byKey) if (r.expiresAt.getTime() <= now.getTime()) this.#byKey.delete(k)
      return n
    })
  }

  /** Prunes on a loop until `signal` aborts; never throws. */
  async run(signal: AbortSignal): Promise<void> {
    const intervalMs = this.#opts.pruneIntervalMs ?? 60_000
    await runEvery(
      signal,
      async () => {
        const n = await this.prune()
        if (n > 0) this.#opts.logger.debug({ pruned: n }, 'expired revocations pruned')
      },
      {
        intervalMs,
        maxBackoffMs: intervalMs * 10,
        onError: (err) => this.#opts.logger.warn({ err }, 'pruning revocations failed'),
      },
    )
  }

  async #expiryOf(kind: RevocationKind, value: string, now: Date): Promise<Date> {
    const issuedKind = ISSUED_KIND[kind]
    if (issuedKind !== undefined) {
      const [record] = await this.#opts.datastore.listIssuedSvids({ kind: issuedKind, serialOrJti: value })
      if (record !== undefined) return record.notAfter
    }
    return new Date(now.getTime() + this.#opts.unknownCredentialTtlMs)
  }

  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => undefined)
    return run
  }

  #notify(change: RevocationChange): void {
    for (const l of this.#listeners) {
      try {
        l(change)
      } catch (err) {
        this.#opts.logger.warn({ err }, 'a revocation listener threw')
      }
    }
  }
}

function key(kind: RevocationKind, value: string): string {
  return `${kind}\0${value}`
}

function checkRequest(r: RevokeRequest): void {
  if (typeof r !== 'object' || r === null) throw new TypeError('a revoke request must be an object')
  if (r.kind !== 'x509_serial' && r.kind !== 'jwt_jti' && r.kind !== 'txn') {
    throw new TypeError("kind must be 'x509_serial', 'jwt_jti' or 'txn'")
  }
  if (typeof r.value !== 'string' || r.value === '' || r.value.length > MAX_REVOCATION_VALUE_LENGTH) {
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      `the revoked value must be 1 to ${MAX_REVOCATION_VALUE_LENGTH} characters`,
    )
  }
  if (
    r.reason !== undefined &&
    (typeof r.reason !== 'string' || r.reason.length > MAX_REVOCATION_REASON_LENGTH)
  ) {
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      `reason must be at most ${MAX_REVOCATION_REASON_LENGTH} characters`,
    )
  }
  if (r.expiresAt !== undefined && (!(r.expiresAt instanceof Date) || Number.isNaN(r.expiresAt.getTime()))) {
    throw new TypeError('expiresAt must be a valid Date')
  }
}
