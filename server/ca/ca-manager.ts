/**
 * The server's CA manager: owns the X.509 signing CA and the JWT signing key, rotates
 * them without a verification gap, keeps them across restarts and publishes the trust
 * bundle. Trust: this is the root of trust of the trust domain. Callers decide who may
 * get which SPIFFE ID; the manager signs whatever it is asked for inside its own trust
 * domain, with TTLs clamped to the signing key's remaining life.
 *
 * Rotation (see rotation.ts): the next CA and JWT key are created and published in the
 * bundle at half of the active one's life, take over signing at 5/6, and the old ones
 * stay in the bundle, retired, until every SVID they signed has expired. Without an
 * upstream the CA is a self-signed root and every CA is in the bundle; with one, the CA
 * is an intermediate and the bundle holds the upstream root.
 */

import type { KeyObject } from 'node:crypto'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import type { MintedJwtSvid } from '../../certs/jwtsvid/jwt-svid-signer.js'
import { type KeyType, publicKeyToSpkiDer } from '../../certs/keys/keys.js'
import type { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import {
  type MintedTxnToken,
  type SignTxnTokenOptions,
  signTxnToken,
} from '../../certs/txntoken/sign-txn-token.js'
import type { MintedWitSvid, WitSvidSignOptions } from '../../certs/witsvid/wit-svid-signer.js'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import { createCrl, type RevokedSerial } from '../../certs/x509svid/crl.js'
import { verifyX509Svid } from '../../certs/x509svid/verify-x509-svid.js'
import type { MintedX509Svid } from '../../certs/x509svid/x509-svid-minter.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { runEvery } from '../../common/loop/run-every.js'
import type { JwtAuthority, UpstreamAuthority, X509Authority } from './authority.js'
import { AuthoritySlots } from './authority-slots.js'
import { BundlePublisher, type BundleStore } from './bundle-publisher.js'
import type { AuthorityStatus } from './key-store.js'
import {
  type AuthorityKind,
  applyLocalAuthorityChange,
  type LocalAuthorities,
  type LocalAuthorityView,
  listLocalAuthorities,
  taintedAuthorityIds,
  viewOf,
} from './local-authority.js'
import { isUsable, publicationLeadMs, rotationIntervalMs } from './rotation.js'

/** Health turns bad after this many rotation failures in a row. */
export const HEALTH_FAILURE_THRESHOLD = 3
/** Longest pause between retries after failures. */
export const MAX_BACKOFF_MS = 60_000

/** Everything the CA manager needs, passed in once. */
export interface CaManagerConfig {
  readonly trustDomain: TrustDomain
  /** Keys live in `<dataDir>/keys/` (0700). */
  readonly dataDir: string
  /** Lifetime of each X.509 CA and JWT key. */
  readonly caTtlSeconds: number
  readonly caKeyType: KeyType
  readonly jwtKeyType: KeyType
  /** Key type of the WIT-SVID signing key; default {@link jwtKeyType}. */
  readonly witKeyType?: KeyType
  /** `iss` claim for JWT-SVIDs, if any. */
  readonly jwtIssuer?: string
  /** With an upstream CA, the server CA is an intermediate it signs. */
  readonly upstream?: UpstreamAuthority
  readonly bundleStore: BundleStore
  /**
   * The first publish replaces the stored bundle's other authorities instead of keeping them
   * (`--allow-new-ca`). Default: keep them — they belong to other servers on the datastore.
   */
  readonly replaceForeignAuthorities?: boolean
  /** Told after each signed SVID (metrics): its kind and how long signing took, in seconds. */
  readonly onSigned?: (kind: 'x509' | 'jwt', seconds: number) => void
  /** `spiffe_refresh_hint` of the published bundle. */
  readonly refreshHintSeconds: number
  readonly clock: () => Date
  readonly logger: Log
  /** Rotation loop period; default {@link rotationIntervalMs}(caTtlSeconds). */
  readonly rotateIntervalMs?: number
}

/** What {@link CaManager.health} reports. */
export interface CaHealth {
  readonly ok: boolean
  readonly consecutiveFailures: number
  readonly lastError?: string
}

/** Public facts about one authority, for status output and tests. */
export interface AuthorityInfo {
  readonly id: string
  readonly status: AuthorityStatus
  readonly notBefore: Date
  readonly notAfter: Date
  readonly signedUntil?: Date
  /** The CA certificate (X.509) */
  readonly certDer?: Buffer
  /** The key id (JWT) */
  readonly kid?: string
}

/**
 * Signs SVIDs and keeps the trust domain's keys fresh.
 *
 * @example
 * const ca = new CaManager({ trustDomain, dataDir, caTtlSeconds: 86400, caKeyType: 'ec-p256',
 *   jwtKeyType: 'ec-p256', bundleStore: datastore, refreshHintSeconds: 300, clock: () => new Date(), logger })
 * await ca.init()
 * void ca.run(signal)
 * const svid = ca.signX509Svid({ spiffeId, publicKey, ttlSeconds: 3600 })
 */
export class CaManager {
  readonly #cfg: CaManagerConfig
  readonly #rotator: AuthoritySlots
  #queue: Promise<unknown> = Promise.resolve()
  #initialized = false
  #failures = 0
  #lastError: string | undefined
  readonly #taintListeners = new Set<(tainted: { x509: string[]; jwt: string[] }) => void>()
  readonly #bundleListeners = new Set<(bundle: TrustBundle) => void>()
  readonly #publisher: BundlePublisher
  #announcedSequence = -1

  constructor(config: CaManagerConfig) {
    checkConfig(config)
    this.#cfg = config
    const publisher = new BundlePublisher({
      trustDomain: config.trustDomain,
      store: config.bundleStore,
      logger: config.logger,
      clock: config.clock,
      replaceForeign: config.replaceForeignAuthorities ?? false,
    })
    this.#publisher = publisher
    this.#rotator = new AuthoritySlots({ ...config, publisher })
    if (config.refreshHintSeconds * 1000 > publicationLeadMs(config.caTtlSeconds * 1000)) {
      config.logger.warn(
        { refresh_hint_seconds: config.refreshHintSeconds, ca_ttl_seconds: config.caTtlSeconds },
        'bundle refresh hint exceeds the time a new key is published before it signs: relying parties may miss it',
      )
    }
  }

  /** Loads the keys from the data dir (or creates them) and publishes the bundle. Throws when that fails. */
  init(): Promise<void> {
    return this.#serialize(async () => {
      if (this.#initialized) return
      await this.#rotator.load()
      await this.#rotator.step(this.#cfg.clock())
      this.#initialized = true
      this.#announceBundle()
    })
  }

  /**
   * Reads the stored bundle again — another server on the same datastore published its
   * authorities — and tells {@link onBundleChange} listeners when it changed. Resolves true then.
   */
  reloadBundle(): Promise<boolean> {
    return this.#serialize(async () => {
      if (!this.#initialized) return false
      const changed = await this.#publisher.reload()
      this.#announceBundle()
      return changed
    })
  }

  /** Calls `listener` with the bundle whenever its sequence number moves (own rotation or another server's). */
  onBundleChange(listener: (bundle: TrustBundle) => void): () => void {
    this.#bundleListeners.add(listener)
    return () => this.#bundleListeners.delete(listener)
  }

  #announceBundle(): void {
    const bundle = this.#rotator.publishedBundle
    if (!bundle || bundle.sequenceNumber === this.#announcedSequence) return
    const first = this.#announcedSequence < 0
    this.#announcedSequence = bundle.sequenceNumber
    if (first) return
    for (const listener of this.#bundleListeners) {
      try {
        listener(bundle)
      } catch (err) {
        this.#cfg.logger.warn({ err: errorText(err) }, 'bundle change listener failed')
      }
    }
  }

  /** One rotation step at `now`: prepare, publish, activate, retire, drop. Idempotent. */
  rotate(now: Date = this.#cfg.clock()): Promise<void> {
    return this.#serialize(async () => {
      if (!this.#initialized) throw new SigilError('ERR_UNAVAILABLE', 'CA manager is not initialized')
      try {
        await this.#rotator.step(now)
        this.#announceBundle()
        this.#failures = 0
        this.#lastError = undefined
      } catch (err) {
        this.#failures++
        this.#lastError = errorText(err)
        this.#cfg.logger.error(
          { err: this.#lastError, consecutive_failures: this.#failures },
          'CA rotation step failed',
        )
        throw err
      }
    })
  }

  /** Calls {@link rotate} periodically until `signal` aborts; never throws (failures back off and count). */
  run(signal: AbortSignal): Promise<void> {
    const interval = this.#cfg.rotateIntervalMs ?? rotationIntervalMs(this.#cfg.caTtlSeconds)
    const maxBackoff = Math.max(interval, Math.min(MAX_BACKOFF_MS, (this.#cfg.caTtlSeconds * 1000) / 24))
    // rotate() logs and counts its failures; runEvery backs off after them.
    return runEvery(signal, () => this.rotate(), { intervalMs: interval, maxBackoffMs: maxBackoff })
  }

  /** ok while the X.509, JWT and WIT signers are usable and rotation has not failed {@link HEALTH_FAILURE_THRESHOLD} times in a row. */
  health(): CaHealth {
    const now = this.#cfg.clock()
    const x509 = this.#rotator.activeX509
    const jwt = this.#rotator.activeJwt
    const wit = this.#rotator.activeWit
    const usable =
      !!x509 &&
      isUsable(now, x509.authority) &&
      !!jwt &&
      isUsable(now, jwt.authority) &&
      !!wit &&
      isUsable(now, wit.authority)
    return {
      ok: this.#initialized && usable && this.#failures < HEALTH_FAILURE_THRESHOLD,
      consecutiveFailures: this.#failures,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    }
  }

  /**
   * Mints an X509-SVID with the active CA. The chain excludes the root (with an upstream
   * it carries the intermediate); NotAfter is clamped to the CA's. Throws the minter's
   * errors (`ERR_TRUST_DOMAIN_MISMATCH`, `ERR_INVALID_ARGUMENT`, ...) or `ERR_UNAVAILABLE`.
   *
   * With `validate` (the server's own SVID and agent SVIDs), the SVID is checked by the one
   * path builder (`verifyX509Svid`) against the current bundle before it is returned, as SPIRE
   * validates every minted SVID; a failure throws an internal error instead of releasing it.
   * Workload SVIDs (the hot path) skip this and rely on the minter's per-CA template self-test.
   */
  signX509Svid(req: {
    spiffeId: SpiffeId
    publicKey: KeyObject
    ttlSeconds: number
    dnsNames?: readonly string[]
    validate?: boolean
  }): MintedX509Svid {
    const now = this.#cfg.clock()
    const active = this.#usable(this.#rotator.activeX509, now, 'X.509 CA')
    const { validate, ...mintReq } = req
    const start = process.hrtime.bigint()
    const minted = active.minter.mint({ ...mintReq, now })
    this.#signed('x509', start)
    raiseSignedUntil(active.authority, minted.notAfter)
    if (validate) {
      const td = this.#cfg.trustDomain
      try {
        verifyX509Svid(minted.chainDer, (d) => (d.equals(td) ? this.x509Authorities() : undefined), { now })
      } catch (cause) {
        throw new Error(`internal: minted X509-SVID "${req.spiffeId}" does not validate against the bundle`, {
          cause,
        })
      }
    }
    return minted
  }

  /**
   * Signs a JWT-SVID with the active JWT key; `exp` is clamped to the key's notAfter (and to
   * `notAfterCap`, a task's deadline). Task tokens also carry `txn` and `actors`.
   */
  async signJwtSvid(req: {
    spiffeId: SpiffeId
    audience: readonly string[]
    ttlSeconds: number
    notAfterCap?: Date
    txn?: string
    actors?: readonly string[]
  }): Promise<MintedJwtSvid> {
    const now = this.#cfg.clock()
    const active = this.#usable(this.#rotator.activeJwt, now, 'JWT key')
    const keyCap = active.authority.notAfter
    const notAfterCap = req.notAfterCap !== undefined && req.notAfterCap < keyCap ? req.notAfterCap : keyCap
    // Record the bound before signing starts: a rotation may retire this key meanwhile.
    if (Number.isFinite(req.ttlSeconds) && req.ttlSeconds > 0) {
      const bound = Math.min(Math.ceil(now.getTime() / 1000 + req.ttlSeconds) * 1000, notAfterCap.getTime())
      raiseSignedUntil(active.authority, new Date(bound))
    }
    const start = process.hrtime.bigint()
    const signed = await active.signer.sign({ ...req, now, notAfterCap })
    this.#signed('jwt', start)
    raiseSignedUntil(active.authority, signed.expiresAt)
    return signed
  }

  /**
   * Signs a WIT-SVID binding `spiffeId` to `workloadKey` with the active WIT key; `exp` is clamped
   * to the key's notAfter. Throws `ERR_UNAVAILABLE`, or `ERR_KEY_UNSUPPORTED` for a workload key
   * a WIT cannot carry.
   */
  signWitSvid(req: Omit<WitSvidSignOptions, 'now' | 'notAfterCap'>): MintedWitSvid {
    const now = this.#cfg.clock()
    const active = this.#usable(this.#rotator.activeWit, now, 'WIT key')
    const minted = active.signer.sign({ ...req, now, notAfterCap: active.authority.notAfter })
    raiseSignedUntil(active.authority, minted.expiresAt)
    return minted
  }

  /** Signs a Txn-Token with the active JWT key (the kid the bundle publishes); `exp` ≤ deadline and key notAfter. */
  async signTxnToken(
    req: Omit<SignTxnTokenOptions, 'trustDomain' | 'now' | 'notAfterCap'>,
  ): Promise<MintedTxnToken> {
    const now = this.#cfg.clock()
    const active = this.#usable(this.#rotator.activeJwt, now, 'JWT key')
    const start = process.hrtime.bigint()
    const minted = await signTxnToken(active.signer, {
      ...req,
      trustDomain: this.#cfg.trustDomain,
      now,
      notAfterCap: active.authority.notAfter,
    })
    this.#signed('jwt', start)
    raiseSignedUntil(active.authority, minted.expiresAt)
    return minted
  }

  /** The trust bundle as last published (own trust domain). */
  currentBundle(): TrustBundle {
    const bundle = this.#rotator.publishedBundle
    if (!bundle) throw new SigilError('ERR_UNAVAILABLE', 'CA manager is not initialized')
    return bundle
  }

  /** The X.509 authorities (DER) of the current bundle. */
  x509Authorities(): readonly Buffer[] {
    return this.currentBundle().x509Authorities
  }

  /**
   * The active CA certificate followed by its issuers up to the trust anchor: `[ca]`
   * for a self-signed CA, `[intermediate, ...upstream chain]` with an upstream.
   */
  caCertificateChain(): Buffer[] {
    const active = this.#rotator.activeX509
    if (!active) throw new SigilError('ERR_UNAVAILABLE', 'CA manager is not initialized')
    return [active.authority.certDer, ...(this.#cfg.upstream?.certDer ?? [])]
  }

  /**
   * One CRL (DER) per X.509 CA that is active or may have signed still-valid SVIDs (it holds its
   * key and what it signed has not all expired), each listing every revoked serial. Serials are random
   * 128-bit values, so listing one under a CA that never issued it is harmless.
   */
  signCrls(req: {
    revoked: readonly RevokedSerial[]
    thisUpdate: Date
    nextUpdate: Date
    crlNumber: bigint
  }): Buffer[] {
    const now = req.thisUpdate.getTime()
    return this.#rotator.x509
      .filter(
        (a) =>
          a.status !== 'retired' &&
          a.privateKey !== undefined &&
          a.notBefore.getTime() <= now &&
          // the active CA may sign at any moment, so it always has one (a CRL made only once
          // it had signed would be missing from the Workload API until the next rebuild)
          (a.status === 'active' || (a.signedUntil ?? a.notAfter).getTime() > now),
      )
      .map((a) =>
        createCrl({
          issuerCertDer: a.certDer,
          issuerKey: a.privateKey as KeyObject,
          revoked: req.revoked,
          thisUpdate: req.thisUpdate,
          nextUpdate: req.nextUpdate,
          crlNumber: req.crlNumber,
        }),
      )
  }

  /** Every X.509 CA, JWT key and WIT key the manager holds (prepared, active, retired); no private keys. */
  authorities(): { x509: AuthorityInfo[]; jwt: AuthorityInfo[]; wit: AuthorityInfo[] } {
    return {
      x509: this.#rotator.x509.map((a) => ({ ...info(a), certDer: a.certDer })),
      jwt: this.#rotator.jwt.map((a) => ({ ...info(a), kid: a.kid })),
      wit: this.#rotator.wit.map((a) => ({ ...info(a), kid: a.kid })),
    }
  }

  /** Active X.509 CA and JWT key notAfter (undefined before init), for the expiry gauges. */
  activeExpiry(): { x509: Date | undefined; jwt: Date | undefined } {
    return {
      x509: this.#rotator.activeX509?.authority.notAfter,
      jwt: this.#rotator.activeJwt?.authority.notAfter,
    }
  }

  // ----- forced rotation (`localauthority`; rules in local-authority.ts) -----

  /** The authorities of `kind` by slot (`localauthority show`). */
  localAuthorities(kind: AuthorityKind): LocalAuthorities {
    return listLocalAuthorities(this.#rotator, kind)
  }

  /** The IDs of the tainted authorities (X.509 subject key IDs, JWT kids), for the agents. */
  taintedAuthorities(): { x509: string[]; jwt: string[] } {
    return taintedAuthorityIds(this.#rotator)
  }

  /** Calls `listener` with {@link taintedAuthorities} after each taint or revoke; returns the unsubscribe function. */
  onTaintChange(listener: (tainted: { x509: string[]; jwt: string[] }) => void): () => void {
    this.#taintListeners.add(listener)
    return () => this.#taintListeners.delete(listener)
  }

  /**
   * `localauthority x509|jwt prepare|activate|taint|revoke`: applies the change, then one
   * rotation step saves it and publishes the bundle. Throws `ERR_NOT_FOUND`,
   * `ERR_FAILED_PRECONDITION` (SPIRE's rules) or `ERR_INVALID_ARGUMENT`.
   */
  changeLocalAuthority(
    kind: AuthorityKind,
    action: 'prepare' | 'activate' | 'taint' | 'revoke',
    authorityId = '',
  ): Promise<LocalAuthorityView> {
    return this.#serialize(async () => {
      if (!this.#initialized) throw new SigilError('ERR_UNAVAILABLE', 'CA manager is not initialized')
      const now = this.#cfg.clock()
      const a = await applyLocalAuthorityChange(this.#rotator, kind, action, authorityId, now)
      const view = viewOf(kind, a)
      await this.#rotator.step(now)
      if (action === 'taint' || action === 'revoke') {
        const tainted = this.taintedAuthorities()
        for (const listener of [...this.#taintListeners]) listener(tainted)
      }
      return view
    })
  }

  #signed(kind: 'x509' | 'jwt', start: bigint): void {
    this.#cfg.onSigned?.(kind, Number(process.hrtime.bigint() - start) / 1e9)
  }

  #usable<T extends { authority: X509Authority | JwtAuthority }>(
    active: T | undefined,
    now: Date,
    what: string,
  ): T {
    if (!active) throw new SigilError('ERR_UNAVAILABLE', 'CA manager is not initialized')
    if (!isUsable(now, active.authority)) {
      throw new SigilError('ERR_UNAVAILABLE', `the active ${what} is not valid at ${now.toISOString()}`)
    }
    return active
  }

  #serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task)
    this.#queue = run.catch(() => {})
    return run
  }
}

function raiseSignedUntil(a: X509Authority | JwtAuthority, notAfter: Date): void {
  if (a.signedUntil === undefined || notAfter > a.signedUntil) a.signedUntil = notAfter
}

function info(a: X509Authority | JwtAuthority): AuthorityInfo {
  return {
    id: a.id,
    status: a.status,
    notBefore: a.notBefore,
    notAfter: a.notAfter,
    ...(a.signedUntil ? { signedUntil: a.signedUntil } : {}),
  }
}

function checkConfig(c: CaManagerConfig): void {
  if (typeof c !== 'object' || c === null) throw new TypeError('CaManager config must be an object')
  if (!Number.isSafeInteger(c.caTtlSeconds) || c.caTtlSeconds < 2) {
    throw new TypeError('caTtlSeconds must be a whole number of seconds, at least 2')
  }
  if (!Number.isSafeInteger(c.refreshHintSeconds) || c.refreshHintSeconds <= 0) {
    throw new TypeError('refreshHintSeconds must be a positive whole number')
  }
  if (typeof c.clock !== 'function') throw new TypeError('clock must be a function returning a Date')
  if (typeof c.bundleStore?.getBundle !== 'function' || typeof c.bundleStore.updateBundle !== 'function') {
    throw new TypeError('bundleStore must have getBundle and updateBundle')
  }
  if (c.upstream) {
    const { certDer, key } = c.upstream
    if (!Array.isArray(certDer) || certDer.length === 0 || !certDer.every((d) => Buffer.isBuffer(d))) {
      throw new TypeError('upstream.certDer must be a non-empty array of DER Buffers')
    }
    if (key?.type !== 'private') throw new TypeError('upstream.key must be a private KeyObject')
    const issuer = readCertificateFacts(certDer[0]!)
    if (!publicKeyToSpkiDer(key).equals(issuer.spkiDer)) {
      throw new SigilError(
        'ERR_CONFIG_INVALID',
        'the upstream CA key does not match the first upstream certificate',
      )
    }
    if (!issuer.isCa) throw new SigilError('ERR_CONFIG_INVALID', 'the first upstream certificate is not a CA')
  }
  if (c.rotateIntervalMs !== undefined && !(c.rotateIntervalMs > 0)) {
    throw new TypeError('rotateIntervalMs must be positive')
  }
}
