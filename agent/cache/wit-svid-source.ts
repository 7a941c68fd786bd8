/**
 * WIT-SVIDs for the Workload API's FetchWITSVID (spiffe/spiffe WIT-SVID profile). A process
 * gets one WIT-SVID per entry it matches, each bound to a key pair of its own that the agent
 * generates for that process (never shared with another process) and sends to the server only
 * as its public JWK. The entries, hints, bundles and "no identity" decisions come from the
 * process's X509 subscription of the identity cache (the same attestation and per-process rules
 * as FetchX509SVID); WITs are renewed (new key, new token) at the jittered half of their life
 * and pushed, and a process's WITs are dropped when its last WIT stream ends or it exits.
 *
 * Trust: a WIT-SVID and its private key are handed only to the attested process they were
 * minted for; both are secrets in transit (never logged).
 */
import type { KeyObject } from 'node:crypto'
import { SigilError } from '../../certs/errors.js'
import { decodeCompactJws } from '../../certs/jws/compact-jws.js'
import { generateKeyPair } from '../../certs/keys/keys.js'
import { confirmationJwk, privateKeyToJwkString } from '../../certs/witsvid/confirmation-key.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import type { IssuedJwtSvid } from './authorized-state.js'
import type { IdentitySnapshot, IdentityUpdate } from './identity-subscription.js'
import { isServable, renewalTime } from './rotation-policy.js'
import { processKey, type WorkloadProcess } from './workload-process.js'

/** One WIT-SVID with its private key, for one process and entry. */
export interface WorkloadWitSvid {
  readonly entryId: string
  readonly spiffeId: string
  /** The compact JWS. A credential: never log it. */
  readonly token: string
  /** The private key as a JWK string with `alg` (the Workload API's `wit_svid_key`). A secret. */
  readonly privateKeyJwk: string
  readonly hint: string
  readonly expiresAt: Date
}

/** A cache snapshot plus the process's WIT-SVIDs (one per SVID entry, same order). */
export interface WitIdentitySnapshot extends IdentitySnapshot {
  readonly wits: readonly WorkloadWitSvid[]
}

/** The update stream of one FetchWITSVID call. */
export interface WitUpdates {
  next(): Promise<IdentityUpdate | undefined>
  close(): void
}

/** Mints WIT-SVIDs (the agent's server client). */
export interface WitSvidIssuer {
  newWitSvid(entryId: string, publicKeyJwk: string): Promise<IssuedJwtSvid>
}

/** What a {@link WitSvidSource} needs. */
export interface WitSvidSourceOptions {
  readonly issuer: WitSvidIssuer
  /** The identity cache's X509 subscriptions. */
  readonly identities: { subscribe(process: WorkloadProcess): WitUpdates }
  readonly clock: () => Date
  readonly logger: Log
  /** Renew at this fraction of the life (±10 % jitter); default 0.5. */
  readonly rotationFraction?: number
  readonly random?: () => number
}

/** After a failed renewal, the next attempt waits this long (the current WIT is served meanwhile). */
export const RENEWAL_RETRY_MS = 1_000

interface Held {
  readonly wit: WorkloadWitSvid
  readonly jti: string | undefined
  readonly renewAt: Date
}

/**
 * @example
 * const wits = new WitSvidSource({ issuer: serverClient, identities: cache, clock, logger })
 * const updates = wits.subscribe(process) // then next() until undefined
 */
export class WitSvidSource {
  readonly #o: WitSvidSourceOptions
  /** processKey → entryId → held WIT */
  readonly #held = new Map<string, Map<string, Held>>()
  readonly #streams = new Map<string, number>()
  readonly #inflight = new Map<string, Promise<Held>>()
  /** processKey → wake functions of its open streams (to push a re-minted WIT at once). */
  readonly #wakers = new Map<string, Set<() => void>>()

  constructor(opts: WitSvidSourceOptions) {
    if (typeof opts?.issuer?.newWitSvid !== 'function') throw new TypeError('issuer.newWitSvid is required')
    if (typeof opts.identities?.subscribe !== 'function')
      throw new TypeError('identities.subscribe is required')
    this.#o = opts
  }

  /** Processes holding WIT-SVIDs now (for tests and metrics). */
  get processCount(): number {
    return this.#held.size
  }

  /** When the process's next WIT-SVID renewal (or retry) is due; undefined when it holds none. */
  renewalDue(process: WorkloadProcess): Date | undefined {
    return this.#nextRenewal(processKey(process))
  }

  /**
   * Drops every held WIT-SVID whose `jti` is revoked and wakes its process's streams, which then
   * get a new one (new key) from the server. Returns how many were dropped.
   */
  dropRevoked(isRevokedJti: (jti: string) => boolean): number {
    let dropped = 0
    for (const [key, byEntry] of this.#held) {
      let hit = false
      for (const [id, h] of byEntry) {
        if (h.jti !== undefined && isRevokedJti(h.jti)) {
          byEntry.delete(id)
          hit = true
          dropped++
        }
      }
      if (hit) for (const wake of this.#wakers.get(key) ?? []) wake()
    }
    return dropped
  }

  /** One FetchWITSVID stream of `process`. */
  subscribe(process: WorkloadProcess): WitUpdates {
    const key = processKey(process)
    this.#streams.set(key, (this.#streams.get(key) ?? 0) + 1)
    const x509 = this.#o.identities.subscribe(process)
    let pending: Promise<IdentityUpdate | undefined> | undefined
    let last: IdentityUpdate | undefined
    let sent: string | undefined
    let closed = false
    let wake: (() => void) | undefined
    let timer: NodeJS.Timeout | undefined
    const wakeMe = () => wake?.()
    let wakers = this.#wakers.get(key)
    if (wakers === undefined) {
      wakers = new Set()
      this.#wakers.set(key, wakers)
    }
    wakers.add(wakeMe)
    const close = () => {
      if (closed) return
      closed = true
      const set = this.#wakers.get(key)
      set?.delete(wakeMe)
      if (set?.size === 0) this.#wakers.delete(key)
      x509.close()
      if (timer !== undefined) clearTimeout(timer)
      wake?.()
      const n = (this.#streams.get(key) ?? 1) - 1
      if (n > 0) this.#streams.set(key, n)
      else {
        this.#streams.delete(key)
        this.#held.delete(key)
      }
    }
    const next = async (): Promise<IdentityUpdate | undefined> => {
      for (;;) {
        if (closed) return undefined
        pending ??= x509.next()
        const due = this.#nextRenewal(key)
        const woke = await new Promise<'x509' | 'timer'>((resolve) => {
          wake = () => resolve('timer')
          if (due !== undefined) {
            timer = setTimeout(
              () => resolve('timer'),
              Math.max(0, due.getTime() - this.#o.clock().getTime()) + 5,
            )
          }
          ;(pending as Promise<IdentityUpdate | undefined>).then(
            () => resolve('x509'),
            () => resolve('x509'),
          )
        })
        if (timer !== undefined) clearTimeout(timer)
        timer = undefined
        wake = undefined
        if (closed) return undefined
        if (woke === 'x509') {
          const u = await (pending as Promise<IdentityUpdate | undefined>)
          pending = undefined
          if (u === undefined) return undefined
          if (u.kind === 'no-identity') {
            this.#held.delete(key)
            return u
          }
          last = u
        }
        if (last?.kind !== 'identity') continue
        const snapshot = await this.#withWits(key, last.snapshot)
        const fingerprint = snapshot.wits.map((w) => w.token).join(',') + bundleFingerprint(snapshot)
        if (fingerprint === sent) continue
        sent = fingerprint
        return { kind: 'identity', snapshot }
      }
    }
    return { next, close }
  }

  async #withWits(key: string, s: IdentitySnapshot): Promise<WitIdentitySnapshot> {
    let byEntry = this.#held.get(key)
    if (byEntry === undefined) {
      byEntry = new Map()
      this.#held.set(key, byEntry)
    }
    const now = this.#o.clock()
    const wanted = new Set(s.svids.map((v) => v.entry.id))
    for (const id of byEntry.keys()) if (!wanted.has(id)) byEntry.delete(id)
    const wits: WorkloadWitSvid[] = []
    for (const svid of s.svids) {
      const held = byEntry.get(svid.entry.id)
      if (held !== undefined && now < held.renewAt && held.wit.spiffeId === svid.spiffeId) {
        wits.push({ ...held.wit, hint: svid.hint })
        continue
      }
      try {
        const fresh = await this.#mint(key, svid.entry.id, svid.hint)
        byEntry.set(svid.entry.id, fresh)
        wits.push(fresh.wit)
      } catch (err) {
        if (held !== undefined && isServable(now, held.wit.expiresAt)) {
          this.#o.logger.warn(
            { entry_id: svid.entry.id, err: errorText(err) },
            'WIT-SVID renewal failed; serving the current one until it expires',
          )
          // retry in a while, not on every timer tick
          byEntry.set(svid.entry.id, { ...held, renewAt: new Date(now.getTime() + RENEWAL_RETRY_MS) })
          wits.push(held.wit)
          continue
        }
        throw err
      }
    }
    return { ...s, wits }
  }

  #mint(key: string, entryId: string, hint: string): Promise<Held> {
    const k = `${key}|${entryId}`
    let p = this.#inflight.get(k)
    if (p === undefined) {
      p = (async () => {
        const { privateKey, publicKey } = await generateKeyPair('ec-p256')
        const issued = await this.#o.issuer.newWitSvid(entryId, JSON.stringify(confirmationJwk(publicKey)))
        return this.#hold(entryId, hint, issued, privateKey)
      })().finally(() => this.#inflight.delete(k))
      this.#inflight.set(k, p)
    }
    return p
  }

  #hold(entryId: string, hint: string, issued: IssuedJwtSvid, privateKey: KeyObject): Held {
    if (!isServable(this.#o.clock(), issued.expiresAt)) {
      throw new SigilError('ERR_UNAVAILABLE', 'the server returned an expired WIT-SVID')
    }
    const random = this.#o.random ?? Math.random
    let jti: string | undefined
    try {
      const v = decodeCompactJws(issued.token, 'WIT-SVID').payload.jti
      jti = typeof v === 'string' ? v : undefined
    } catch {
      throw new SigilError('ERR_UNAVAILABLE', 'the server returned a malformed WIT-SVID')
    }
    return {
      jti,
      wit: {
        entryId,
        spiffeId: issued.spiffeId,
        token: issued.token,
        privateKeyJwk: privateKeyToJwkString(privateKey),
        hint,
        expiresAt: issued.expiresAt,
      },
      renewAt: renewalTime(issued.issuedAt, issued.expiresAt, this.#o.rotationFraction ?? 0.5, random()),
    }
  }

  #nextRenewal(key: string): Date | undefined {
    let first: Date | undefined
    for (const h of this.#held.get(key)?.values() ?? [])
      if (first === undefined || h.renewAt < first) first = h.renewAt
    return first
  }
}

function bundleFingerprint(s: IdentitySnapshot): string {
  const kids = (b: IdentitySnapshot['bundle']) => b.witAuthorities.map((a) => a.kid).join('+')
  return `|${kids(s.bundle)}|${[...s.federatedBundles.values()].map(kids).join('|')}`
}
