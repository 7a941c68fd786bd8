/**
 * The agent's copy of the server's revocation list: revoked X.509 serials, JWT `jti`s and
 * Txn-Token `txn`s, each until the credential it names expires. Fed by the server's push stream
 * (`sync/agent-update-watch.ts`) and, as a fallback, by each sync; read on every
 * ValidateJWTSVID, so lookups are one Map probe (O(1) at 100,000 entries).
 *
 * Trust: updates come only from the authenticated server connection. Unknown kinds are ignored
 * (a newer server may revoke kinds this agent does not know).
 *
 * @example
 * const revoked = new RevocationSet()
 * revoked.apply({ snapshot: true, sequence: 3, revoked: [{ kind: 'jwt_jti', value: 'j1', expiresAtMs }] })
 * revoked.isRevoked('jwt_jti', 'j1') // true until expiresAtMs
 */

/** The kinds of revoked credential. */
export type RevokedKind = 'x509_serial' | 'jwt_jti' | 'txn'

/** One revoked credential. */
export interface RevokedCredential {
  readonly kind: string
  readonly value: string
  /** When the credential expires (ms since the epoch): it may be forgotten then. */
  readonly expiresAtMs: number
}

/** One piece of a snapshot or delta (see `RevocationUpdate` in agent.proto). */
export interface RevocationPiece {
  /** Drop everything held before adding these. */
  readonly snapshot: boolean
  /** The sequence number held after this piece. */
  readonly sequence: number
  readonly revoked: readonly RevokedCredential[]
}

/** Forget expired entries at most this often (an apply does it). */
const FORGET_EVERY_MS = 60_000

/** The agent's revocation list (see the module comment). */
export class RevocationSet {
  readonly #maps: Record<RevokedKind, Map<string, number>> = {
    x509_serial: new Map(),
    jwt_jti: new Map(),
    txn: new Map(),
  }
  readonly #listeners = new Set<(sequence: number) => void>()
  readonly #crlListeners = new Set<(crls: readonly Buffer[]) => void>()
  #crls: readonly Buffer[] = []
  #crlsDigest = ''
  readonly #clock: () => number
  #sequence = 0
  #lastForget = 0

  constructor(opts: { clockMs?: () => number } = {}) {
    this.#clock = opts.clockMs ?? Date.now
  }

  /** The server sequence number this copy is at (0: nothing received yet). */
  get sequence(): number {
    return this.#sequence
  }

  /** How many revocations are held. */
  get size(): number {
    return this.#maps.x509_serial.size + this.#maps.jwt_jti.size + this.#maps.txn.size
  }

  /** True when the credential is revoked and has not expired yet. */
  isRevoked(kind: RevokedKind, value: string): boolean {
    const expiresAt = this.#maps[kind].get(value)
    return expiresAt !== undefined && expiresAt > this.#clock()
  }

  /** The revoked X.509 serials (lowercase hex) still held, for CRLs. */
  serials(): Map<string, number> {
    return new Map(this.#maps.x509_serial)
  }

  /** Applies one piece; listeners hear the new sequence when anything changed. */
  apply(piece: RevocationPiece): void {
    if (piece.snapshot) for (const m of Object.values(this.#maps)) m.clear()
    let changed = piece.snapshot || piece.sequence !== this.#sequence
    for (const r of piece.revoked) {
      const map = this.#maps[r.kind as RevokedKind] as Map<string, number> | undefined
      if (map === undefined) continue
      const before = map.get(r.value)
      if (before === undefined || before < r.expiresAtMs) {
        map.set(r.value, r.expiresAtMs)
        changed = true
      }
    }
    this.#sequence = piece.sequence
    const now = this.#clock()
    if (now - this.#lastForget >= FORGET_EVERY_MS) {
      this.#lastForget = now
      for (const m of Object.values(this.#maps)) for (const [v, exp] of m) if (exp <= now) m.delete(v)
    }
    if (changed) for (const l of this.#listeners) l(this.#sequence)
  }

  /** The server's current CRLs (DER), for the Workload API's `crl` fields. */
  get crls(): readonly Buffer[] {
    return this.#crls
  }

  /** The server's digest of {@link crls} (`''` before the first). */
  get crlsDigest(): string {
    return this.#crlsDigest
  }

  /** Replaces the CRLs; listeners hear them when the digest changed. */
  setCrls(crls: readonly Buffer[], digest: string): void {
    if (digest === this.#crlsDigest) return
    this.#crls = [...crls]
    this.#crlsDigest = digest
    for (const l of this.#crlListeners) l(this.#crls)
  }

  /** Calls `listener` with the new CRLs after every change; returns the unsubscribe function. */
  onCrls(listener: (crls: readonly Buffer[]) => void): () => void {
    this.#crlListeners.add(listener)
    return () => this.#crlListeners.delete(listener)
  }

  /** Calls `listener` with the new sequence after every change; returns the unsubscribe function. */
  onChange(listener: (sequence: number) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
