/**
 * WIT-SVID minting (spiffe/spiffe standards/WIT-SVID.md, a profile of the WIMSE Workload
 * Identity Token): compact JWS, header exactly `{alg, kid, typ: "wit+jwt"}`; claims `sub` (the
 * SPIFFE ID), `exp`, `iat`, `nbf` (= `iat`), a random `jti`, `cnf.jwk` (the workload's public
 * key with its `alg`) and `iss` when configured. Never `aud`: a WIT-SVID is no bearer token and
 * must not pass for one. Signed with `node:crypto` (`../jws/compact-jws.ts`).
 *
 * Trust: the signer holds a WIT authority key and binds whatever identity to whatever key it
 * is given; authorizing the caller for that identity (and that it holds the key) is the
 * caller's job.
 */
import { type KeyObject, randomBytes } from 'node:crypto'
import { encodeJsonPart, signWithEncodedHeader } from '../jws/compact-jws.js'
import { algorithmFitsKey, isJwtSvidAlgorithm } from '../jwtsvid/jwt-svid-algorithms.js'
import { tokenLifetime } from '../lib/token-lifetime.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import {
  type ConfirmationJwk,
  confirmationJwk,
  defaultWitAlgorithm,
  type WitSvidAlgorithm,
} from './confirmation-key.js'

/** The JWS `typ` of a WIT-SVID. */
export const WIT_SVID_TYPE = 'wit+jwt'
/** The HTTP header a WIT travels in (draft-ietf-wimse-workload-creds). */
export const WIT_HEADER = 'Workload-Identity-Token'

/** How to build a {@link WitSvidSigner}. */
export interface WitSvidSignerOptions {
  /** The WIT authority's private key (EC or RSA). */
  privateKey: KeyObject
  /** The key's `kid` in the bundle (unique across the bundle's JWT and WIT keys). */
  kid: string
  /** Default from the key: ES256/ES384/ES512 by curve, RS256 for RSA. */
  algorithm?: WitSvidAlgorithm
  /** Written as `iss` when set; should not be an OIDC issuer (WIT-SVID.md §3.7). */
  issuer?: string
}

/** What {@link WitSvidSigner.sign} needs for one token. */
export interface WitSvidSignOptions {
  spiffeId: SpiffeId
  /** The workload's public key (a private one is reduced to its public half). */
  workloadKey: KeyObject
  /** Default from the key (ES256 for P-256). */
  workloadAlgorithm?: WitSvidAlgorithm
  /** Positive whole seconds. */
  ttlSeconds: number
  now?: Date
  /** `exp` never goes past this (e.g. the signing key's own expiry). */
  notAfterCap?: Date
}

/** A freshly minted WIT-SVID and the values in it. */
export interface MintedWitSvid {
  token: string
  spiffeId: SpiffeId
  issuedAt: Date
  expiresAt: Date
  jti: string
  /** The `cnf.jwk` written. */
  confirmation: ConfirmationJwk
}

/**
 * Signs WIT-SVIDs with one WIT authority key; synchronous (node:crypto).
 *
 * @example
 * const signer = new WitSvidSigner({ privateKey, kid: 'w1' })
 * const { token } = signer.sign({ spiffeId, workloadKey: workloadPublicKey, ttlSeconds: 3600 })
 */
export class WitSvidSigner {
  readonly kid: string
  readonly algorithm: WitSvidAlgorithm
  readonly issuer: string | undefined
  readonly #privateKey: KeyObject
  readonly #encodedHeader: string

  constructor(opts: WitSvidSignerOptions) {
    const { privateKey, kid, issuer } = opts ?? {}
    if (typeof privateKey !== 'object' || privateKey === null || privateKey.type !== 'private') {
      throw new TypeError('privateKey must be a private KeyObject')
    }
    if (typeof kid !== 'string' || kid === '') throw new TypeError('kid must be a non-empty string')
    if (issuer !== undefined && (typeof issuer !== 'string' || issuer === '')) {
      throw new TypeError('issuer must be a non-empty string when set')
    }
    const algorithm = opts.algorithm ?? defaultWitAlgorithm(privateKey)
    if (!isJwtSvidAlgorithm(algorithm)) throw new TypeError(`unsupported algorithm "${String(algorithm)}"`)
    if (!algorithmFitsKey(algorithm, privateKey))
      throw new TypeError(`algorithm ${algorithm} does not fit the key`)
    this.kid = kid
    this.algorithm = algorithm
    this.issuer = issuer
    this.#privateKey = privateKey
    this.#encodedHeader = encodeJsonPart({ alg: algorithm, kid, typ: WIT_SVID_TYPE })
  }

  /**
   * Mints one WIT-SVID. `exp` = `iat` + ttl, capped at `notAfterCap`. Throws
   * `ERR_INVALID_ARGUMENT` when the cap leaves no lifetime, `ERR_KEY_UNSUPPORTED` for a
   * workload key a WIT cannot carry; `TypeError` for arguments of the wrong type.
   */
  sign(opts: WitSvidSignOptions): MintedWitSvid {
    const { spiffeId, ttlSeconds, notAfterCap, workloadKey } = opts
    if (!(spiffeId instanceof SpiffeId)) throw new TypeError('spiffeId must be a SpiffeId')
    if (typeof workloadKey !== 'object' || workloadKey === null || typeof workloadKey.export !== 'function') {
      throw new TypeError('workloadKey must be a KeyObject')
    }
    const { iat, exp } = tokenLifetime({ ttlSeconds, now: opts.now, notAfterCap }, 'WIT-SVID')
    const confirmation = confirmationJwk(workloadKey, opts.workloadAlgorithm)
    const jti = randomBytes(16).toString('base64url')
    const claims: Record<string, unknown> = {
      sub: spiffeId.toString(),
      exp,
      iat,
      nbf: iat,
      jti,
      cnf: { jwk: confirmation },
    }
    if (this.issuer !== undefined) claims.iss = this.issuer
    const token = signWithEncodedHeader(this.#encodedHeader, this.algorithm, claims, this.#privateKey)
    return {
      token,
      spiffeId,
      issuedAt: new Date(iat * 1000),
      expiresAt: new Date(exp * 1000),
      jti,
      confirmation,
    }
  }
}
