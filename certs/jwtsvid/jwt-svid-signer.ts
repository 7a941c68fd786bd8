/**
 * JWT-SVID minting and validation (SPIFFE.md §3). This file mints: compact JWS signed with
 * `node:crypto` (`../jws/compact-jws.ts`, synchronous; jose stays the independent verifier in
 * the tests), header exactly `{alg, kid, typ: "JWT"}`, claims `sub`, `aud` (always an
 * array, request order kept), `exp`, `iat`, a random `jti`, and `iss` when configured.
 * `validate-jwt-svid.ts` checks tokens against trust bundles; `parse-jwt-svid-insecure.ts`
 * decodes without verifying, for display only.
 *
 * Trust: the signer holds a CA's JWT signing key and signs whatever identity and audience
 * it is given; authorizing the caller for that identity is the caller's job.
 */
import { type KeyObject, randomUUID } from 'node:crypto'
import { SigilError } from '../errors.js'
import { encodeJsonPart, signWithEncodedHeader } from '../jws/compact-jws.js'
import { keyTypeOf } from '../keys/keys.js'
import { tokenLifetime } from '../lib/token-lifetime.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import { type ActClaim, buildActClaim } from '../txntoken/act-chain.js'
import { algorithmFitsKey } from './jwt-svid-algorithms.js'

/** The algorithms Sigil signs JWT-SVIDs with. */
export type JwtSvidSigningAlgorithm = 'ES256' | 'ES384' | 'RS256' | 'PS256'
const SIGNING_ALGORITHMS: readonly string[] = ['ES256', 'ES384', 'RS256', 'PS256']

/** How to build a {@link JwtSvidSigner}. */
export interface JwtSvidSignerOptions {
  privateKey: KeyObject
  /** The key's `kid` in the JWT bundle. */
  kid: string
  /** Default from the key: ES256 for P-256, ES384 for P-384, RS256 for RSA. */
  algorithm?: JwtSvidSigningAlgorithm
  /** Written as `iss` when set (relying parties such as OIDC federation need it). */
  issuer?: string
}

/** What {@link JwtSvidSigner.sign} needs for one token. */
export interface JwtSvidSignOptions {
  spiffeId: SpiffeId
  /** Non-empty; no empty strings; written in this order. */
  audience: readonly string[]
  /** Positive whole seconds. */
  ttlSeconds: number
  now?: Date
  /** `exp` never goes past this (e.g. the signing key's own expiry). */
  notAfterCap?: Date
  /** Task-bound tokens: the task's Txn-Token `txn`, written as the `txn` claim. */
  txn?: string
  /**
   * Task-bound tokens on someone's behalf: the actors, current first (RFC 8693 `act`,
   * outermost = current actor). Written as the `act` claim when non-empty.
   */
  actors?: readonly string[]
}

/** The JWS `typ` values Sigil signs: JWT-SVIDs (`JWT`) and Txn-Tokens (`txntoken+jwt`). */
export type SignedJwtType = 'JWT' | 'txntoken+jwt'

/** A freshly minted JWT-SVID and the values in it. */
export interface MintedJwtSvid {
  token: string
  spiffeId: SpiffeId
  audience: string[]
  issuedAt: Date
  expiresAt: Date
  jti: string
}

/**
 * Signs JWT-SVIDs with one key. Cheap to keep; each header is encoded once.
 *
 * @example
 * const signer = new JwtSvidSigner({ privateKey, kid: 'k1', issuer: 'https://oidc.example.org' })
 * const { token } = await signer.sign({ spiffeId, audience: ['spiffe://example.org/db'], ttlSeconds: 300 })
 */
export class JwtSvidSigner {
  readonly kid: string
  readonly algorithm: JwtSvidSigningAlgorithm
  readonly issuer: string | undefined
  readonly #privateKey: KeyObject
  readonly #encodedHeaders: Record<SignedJwtType, string>

  constructor(opts: JwtSvidSignerOptions) {
    const { privateKey, kid, issuer } = opts ?? {}
    if (typeof privateKey !== 'object' || privateKey === null || privateKey.type !== 'private') {
      throw new TypeError('privateKey must be a private KeyObject')
    }
    if (typeof kid !== 'string' || kid === '') throw new TypeError('kid must be a non-empty string')
    if (issuer !== undefined && (typeof issuer !== 'string' || issuer === '')) {
      throw new TypeError('issuer must be a non-empty string when set')
    }
    const algorithm = opts.algorithm ?? defaultAlgorithm(privateKey)
    if (!SIGNING_ALGORITHMS.includes(algorithm)) throw new TypeError(`unsupported algorithm "${algorithm}"`)
    if (!algorithmFitsKey(algorithm, privateKey)) {
      throw new TypeError(`algorithm ${algorithm} does not fit a ${keyTypeOf(privateKey)} key`)
    }
    this.kid = kid
    this.algorithm = algorithm
    this.issuer = issuer
    this.#privateKey = privateKey
    this.#encodedHeaders = {
      JWT: encodeJsonPart({ alg: algorithm, kid, typ: 'JWT' }),
      'txntoken+jwt': encodeJsonPart({ alg: algorithm, kid, typ: 'txntoken+jwt' }),
    }
  }

  /**
   * Mints one JWT-SVID. `exp` = `iat` + ttl, capped at `notAfterCap`. Throws
   * `ERR_INVALID_ARGUMENT` for an empty audience list or an empty audience, or when the cap
   * leaves no lifetime; `TypeError` for arguments of the wrong type.
   */
  async sign(opts: JwtSvidSignOptions): Promise<MintedJwtSvid> {
    const { spiffeId, ttlSeconds, notAfterCap } = opts
    if (!(spiffeId instanceof SpiffeId)) throw new TypeError('spiffeId must be a SpiffeId')
    const audience = checkAudience(opts.audience)
    const { iat, exp } = tokenLifetime({ ttlSeconds, now: opts.now, notAfterCap }, 'JWT-SVID')
    const jti = randomUUID()
    const claims: Record<string, unknown> = { sub: spiffeId.toString(), aud: audience, exp, iat }
    if (this.issuer !== undefined) claims.iss = this.issuer
    claims.jti = jti
    if (opts.txn !== undefined) {
      if (typeof opts.txn !== 'string' || opts.txn === '')
        throw new TypeError('txn must be a non-empty string')
      claims.txn = opts.txn
    }
    const act: ActClaim | undefined = opts.actors === undefined ? undefined : buildActClaim(opts.actors)
    if (act !== undefined) claims.act = act
    const token = this.signJwsSync('JWT', claims)
    return { token, spiffeId, audience, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000), jti }
  }

  /**
   * Signs `claims` as a compact JWS with header exactly `{alg, kid, typ}`. The building block
   * of {@link JwtSvidSigner.sign} and of `signTxnToken`; the caller owns the claims.
   */
  async signJws(typ: SignedJwtType, claims: Record<string, unknown>): Promise<string> {
    return this.signJwsSync(typ, claims)
  }

  /** {@link JwtSvidSigner.signJws} without the promise (signing is synchronous). */
  signJwsSync(typ: SignedJwtType, claims: Record<string, unknown>): string {
    if (typ !== 'JWT' && typ !== 'txntoken+jwt') throw new TypeError(`unsupported typ "${String(typ)}"`)
    return signWithEncodedHeader(this.#encodedHeaders[typ], this.algorithm, claims, this.#privateKey)
  }
}

function defaultAlgorithm(key: KeyObject): JwtSvidSigningAlgorithm {
  const type = keyTypeOf(key)
  return type === 'ec-p256' ? 'ES256' : type === 'ec-p384' ? 'ES384' : 'RS256'
}

function checkAudience(audience: readonly string[]): string[] {
  if (!Array.isArray(audience)) throw new TypeError('audience must be an array of strings')
  if (audience.length === 0) throw new SigilError('ERR_INVALID_ARGUMENT', 'audience must not be empty')
  for (const a of audience) {
    if (typeof a !== 'string') throw new TypeError('audience must be an array of strings')
    if (a === '') throw new SigilError('ERR_INVALID_ARGUMENT', 'audience must not contain an empty string')
  }
  return [...audience]
}
