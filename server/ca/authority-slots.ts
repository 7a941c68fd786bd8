/**
 * The CA manager's state machine: the X.509 CAs, JWT keys and WIT keys it holds (prepared,
 * active, retired), the signer built once per activation, and one rotation step that
 * acts on the pure decisions of rotation.ts. Every change is saved to the key store
 * before the bundle is published, and a prepared authority is activated only once the
 * store confirms it is in the published bundle. Not thread-safe on its own: the
 * CaManager serializes calls.
 */
import { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import { JwtSvidSigner } from '../../certs/jwtsvid/jwt-svid-signer.js'
import type { KeyType } from '../../certs/keys/keys.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { WitSvidSigner } from '../../certs/witsvid/wit-svid-signer.js'
import { X509SvidMinter } from '../../certs/x509svid/x509-svid-minter.js'
import type { Log } from '../../common/logging/logger.js'
import {
  type Authority,
  chainsToConfiguredRoot,
  createJwtAuthority,
  createX509Authority,
  type JwtAuthority,
  jwtFromStored,
  jwtToStored,
  type UpstreamAuthority,
  type X509Authority,
  x509FromStored,
  x509ToStored,
} from './authority.js'
import type { BundlePublisher } from './bundle-publisher.js'
import { KeyStore } from './key-store.js'
import { isUsable, shouldActivateNext, shouldDropFromBundle, shouldPrepareNext } from './rotation.js'

/** What the slots need (a subset of the CaManager config plus the publisher). */
export interface AuthoritySlotsOptions {
  readonly trustDomain: TrustDomain
  readonly dataDir: string
  readonly caTtlSeconds: number
  readonly caKeyType: KeyType
  readonly jwtKeyType: KeyType
  readonly jwtIssuer?: string
  /** Key type of the WIT-SVID authority; default the JWT key type. */
  readonly witKeyType?: KeyType
  readonly upstream?: UpstreamAuthority
  readonly refreshHintSeconds: number
  readonly logger: Log
  readonly publisher: BundlePublisher
}

/**
 * Holds the authorities in their slots (prepared, active, retired) and performs one rotation
 * step when asked; the loop that asks lives in CaManager (SPIRE: ca/manager/slot.go vs. the
 * manager's rotate loop).
 *
 * @example
 * const slots = new AuthoritySlots({ ...config, publisher })
 * await slots.load()
 * await slots.step(new Date())
 * slots.activeX509?.minter.mint(...)
 */
export class AuthoritySlots {
  x509: X509Authority[] = []
  jwt: JwtAuthority[] = []
  activeX509: { readonly authority: X509Authority; readonly minter: X509SvidMinter } | undefined
  activeJwt: { readonly authority: JwtAuthority; readonly signer: JwtSvidSigner } | undefined
  /** WIT-SVID signing keys: rotated exactly like the JWT keys, published with `use: "wit-svid"`. */
  wit: JwtAuthority[] = []
  activeWit: { readonly authority: JwtAuthority; readonly signer: WitSvidSigner } | undefined
  readonly #o: AuthoritySlotsOptions
  readonly #keyStore: KeyStore
  #dirty = false

  constructor(opts: AuthoritySlotsOptions) {
    this.#o = opts
    this.#keyStore = new KeyStore(opts.dataDir)
  }

  /** The bundle the store last confirmed. */
  get publishedBundle(): TrustBundle | undefined {
    return this.#o.publisher.current
  }

  /** Loads saved authorities; ones that do not fit the configured upstream are dropped (with a warning). */
  async load(): Promise<void> {
    const journal = await this.#keyStore.load()
    if (!journal) return
    this.x509 = journal.x509.map(x509FromStored).filter((a) => {
      if (chainsToConfiguredRoot(a, this.#o.upstream)) return true
      this.#o.logger.warn(
        { authority_id: a.id, status: a.status },
        this.#o.upstream
          ? 'saved X.509 CA was not issued by the configured upstream CA; dropping it'
          : 'saved X.509 CA is not a self-signed root (upstream removed?); dropping it',
      )
      this.#dirty = true
      return false
    })
    this.jwt = journal.jwt.map(jwtFromStored)
    this.wit = (journal.wit ?? []).map(jwtFromStored)
    for (const [kind, list] of [
      ['x509', this.x509],
      ['jwt', this.jwt],
      ['wit', this.wit],
    ] as const) {
      for (const status of ['active', 'prepared'] as const) {
        if (list.filter((a) => a.status === status).length > 1) {
          throw new SigilError('ERR_DATASTORE', `key store holds more than one ${status} ${kind} authority`)
        }
      }
    }
    this.#o.logger.info(
      {
        x509_authorities: this.x509.length,
        jwt_authorities: this.jwt.length,
        wit_authorities: this.wit.length,
      },
      'CA keys loaded from the data dir',
    )
  }

  /** One rotation step at `now`. Idempotent. */
  async step(now: Date): Promise<void> {
    const o = this.#o
    // 1. Prepare successors (or a first authority) and publish them before they sign anything.
    this.x509 = this.#pruneExpiredPrepared(this.x509, now, 'X.509 CA')
    this.jwt = this.#pruneExpiredPrepared(this.jwt, now, 'JWT key')
    this.wit = this.#pruneExpiredPrepared(this.wit, now, 'WIT key')
    if (needsNext(this.x509, now)) await this.prepare('x509', now)
    if (needsNext(this.jwt, now)) await this.prepare('jwt', now)
    if (needsNext(this.wit, now)) {
      const keyType = o.witKeyType ?? o.jwtKeyType
      const a = await createJwtAuthority({ keyType, ttlSeconds: o.caTtlSeconds, now })
      this.wit.push(a)
      this.#changed('WIT key prepared', a, { kid: a.kid })
    }
    await this.#saveIfDirty()
    const { bundle } = await o.publisher.publish(this.#desiredBundle())

    // 2. Activate a published successor when due; the old authority retires but stays published.
    const nextX509 = dueForActivation(
      this.x509,
      now,
      (a) => !!o.upstream || bundle.hasX509Authority(a.certDer),
    )
    if (nextX509) this.activate('x509', nextX509, now)
    const nextJwt = dueForActivation(this.jwt, now, (a) => bundle.findJwtAuthority(a.kid) !== undefined)
    if (nextJwt) this.activate('jwt', nextJwt, now)
    const nextWit = dueForActivation(this.wit, now, (a) => bundle.findWitAuthority(a.kid) !== undefined)
    if (nextWit) {
      const signer = this.#witSignerFor(nextWit)
      this.#activate(this.wit, nextWit, now, 'WIT key')
      this.activeWit = { authority: nextWit, signer }
    }
    // After a restart the active authorities come from disk: build their signers once.
    const activeX509 = this.x509.find((a) => a.status === 'active')
    if (activeX509 && this.activeX509?.authority !== activeX509) {
      this.activeX509 = { authority: activeX509, minter: this.#minterFor(activeX509) }
    }
    const activeJwt = this.jwt.find((a) => a.status === 'active')
    if (activeJwt && this.activeJwt?.authority !== activeJwt) {
      this.activeJwt = { authority: activeJwt, signer: this.#signerFor(activeJwt) }
    }
    const activeWit = this.wit.find((a) => a.status === 'active')
    if (activeWit && this.activeWit?.authority !== activeWit) {
      this.activeWit = { authority: activeWit, signer: this.#witSignerFor(activeWit) }
    }
    await this.#saveIfDirty()

    // 3. Drop retired authorities once everything they signed has expired.
    this.x509 = this.#dropRetired(this.x509, now, 'X.509 CA')
    this.jwt = this.#dropRetired(this.jwt, now, 'JWT key')
    this.wit = this.#dropRetired(this.wit, now, 'WIT key')
    if (this.#dirty) {
      await this.#saveIfDirty()
      await o.publisher.publish(this.#desiredBundle())
    }
  }

  // ----- forced rotation (`localauthority`, local-authority.ts); each change is saved and
  // published by the next step(), which the CaManager runs right after -----

  /** True with an upstream CA: the bundle holds its root, not the X.509 CAs. */
  get hasUpstream(): boolean {
    return this.#o.upstream !== undefined
  }

  /** Creates a prepared authority of `kind` at `now`, replacing a prepared one (which never signed). */
  async prepare(kind: 'x509' | 'jwt', now: Date): Promise<X509Authority | JwtAuthority> {
    const o = this.#o
    if (kind === 'x509') {
      const a = await createX509Authority({
        trustDomain: o.trustDomain,
        keyType: o.caKeyType,
        ttlSeconds: o.caTtlSeconds,
        now,
        upstream: o.upstream,
      })
      this.x509 = [...this.#withoutPrepared(this.x509, 'X.509 CA'), a]
      this.#changed('X.509 CA prepared', a)
      return a
    }
    const a = await createJwtAuthority({ keyType: o.jwtKeyType, ttlSeconds: o.caTtlSeconds, now })
    this.jwt = [...this.#withoutPrepared(this.jwt, 'JWT key'), a]
    this.#changed('JWT key prepared', a, { kid: a.kid })
    return a
  }

  /** Makes the prepared `next` the signer; the active one retires (stays published). */
  activate(kind: 'x509' | 'jwt', next: X509Authority | JwtAuthority, now: Date): void {
    if (kind === 'x509') {
      const minter = this.#minterFor(next as X509Authority)
      this.#activate(this.x509, next as X509Authority, now, 'X.509 CA')
      this.activeX509 = { authority: next as X509Authority, minter }
    } else {
      const signer = this.#signerFor(next as JwtAuthority)
      this.#activate(this.jwt, next as JwtAuthority, now, 'JWT key')
      this.activeJwt = { authority: next as JwtAuthority, signer }
    }
  }

  /** Marks a retired authority tainted. */
  taint(a: Authority): void {
    a.tainted = true
    this.#changed('authority tainted: agents re-issue what it signed', a)
  }

  /** Removes a retired authority from the slots, hence from the bundle. */
  revoke(kind: 'x509' | 'jwt', a: Authority): void {
    if (kind === 'x509') this.x509 = this.x509.filter((x) => x !== a)
    else this.jwt = this.jwt.filter((x) => x !== a)
    this.#changed('authority revoked: removed from the bundle', a)
  }

  #withoutPrepared<A extends Authority>(list: A[], what: string): A[] {
    return list.filter((a) => {
      if (a.status !== 'prepared') return true
      this.#changed(`${what} prepared earlier replaced`, a)
      return false
    })
  }

  #desiredBundle(): TrustBundle {
    const root = this.#o.upstream?.certDer.at(-1)
    return TrustBundle.create({
      trustDomain: this.#o.trustDomain,
      x509Authorities: root ? [root] : this.x509.map((a) => a.certDer),
      jwtAuthorities: this.jwt.map((a) => ({ kid: a.kid, publicKey: a.publicKey })),
      witAuthorities: this.wit.map((a) => ({ kid: a.kid, publicKey: a.publicKey })),
      refreshHintSeconds: this.#o.refreshHintSeconds,
    })
  }

  #minterFor(a: X509Authority): X509SvidMinter {
    if (!a.privateKey) throw new Error(`internal: X.509 CA ${a.id} has no private key`)
    return new X509SvidMinter({
      caCertDer: a.certDer,
      caKey: a.privateKey,
      intermediatesDer: this.#o.upstream ? this.#o.upstream.certDer.slice(0, -1) : [],
    })
  }

  #signerFor(a: JwtAuthority): JwtSvidSigner {
    if (!a.privateKey) throw new Error(`internal: JWT key ${a.id} has no private key`)
    return new JwtSvidSigner({
      privateKey: a.privateKey,
      kid: a.kid,
      ...(this.#o.jwtIssuer ? { issuer: this.#o.jwtIssuer } : {}),
    })
  }

  #witSignerFor(a: JwtAuthority): WitSvidSigner {
    if (!a.privateKey) throw new Error(`internal: WIT key ${a.id} has no private key`)
    return new WitSvidSigner({ privateKey: a.privateKey, kid: a.kid })
  }

  #activate<A extends Authority>(list: A[], next: A, now: Date, what: string): void {
    for (const a of list) {
      if (a.status !== 'active') continue
      a.status = 'retired'
      a.privateKey = undefined
      this.#changed(`${what} retired`, a, { signed_until: a.signedUntil?.toISOString() })
    }
    next.status = 'active'
    next.signedUntil = now
    this.#changed(`${what} activated`, next)
  }

  #pruneExpiredPrepared<A extends Authority>(list: A[], now: Date, what: string): A[] {
    return list.filter((a) => {
      if (a.status !== 'prepared' || now < a.notAfter) return true
      this.#changed(`${what} expired before activation; discarded`, a)
      return false
    })
  }

  #dropRetired<A extends Authority>(list: A[], now: Date, what: string): A[] {
    return list.filter((a) => {
      if (a.status !== 'retired' || !shouldDropFromBundle(now, a, a.signedUntil)) return true
      this.#changed(`${what} removed from the bundle`, a)
      return false
    })
  }

  #changed(msg: string, a: Authority, extra: Record<string, unknown> = {}): void {
    this.#dirty = true
    this.#o.logger.info(
      {
        authority_id: a.id,
        not_before: a.notBefore.toISOString(),
        not_after: a.notAfter.toISOString(),
        ...extra,
      },
      msg,
    )
  }

  async #saveIfDirty(): Promise<void> {
    if (!this.#dirty) return
    await this.#keyStore.save({
      x509: this.x509.map(x509ToStored),
      jwt: this.jwt.map(jwtToStored),
      wit: this.wit.map(jwtToStored),
    })
    this.#dirty = false
  }
}

/** True when a successor must be prepared: none yet, and the active one is missing, unusable or past half-life. */
function needsNext(list: readonly Authority[], now: Date): boolean {
  if (list.some((a) => a.status === 'prepared')) return false
  const active = list.find((a) => a.status === 'active')
  return !active || !isUsable(now, active) || shouldPrepareNext(now, active)
}

/** The prepared authority to activate now, if it is usable, published, and the active one is due. */
function dueForActivation<A extends Authority>(
  list: readonly A[],
  now: Date,
  published: (a: A) => boolean,
): A | undefined {
  const next = list.find((a) => a.status === 'prepared')
  if (!next?.privateKey || !isUsable(now, next) || !published(next)) return undefined
  const active = list.find((a) => a.status === 'active')
  if (active && isUsable(now, active) && !shouldActivateNext(now, active)) return undefined
  return next
}
