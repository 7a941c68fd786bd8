/**
 * Workload Proof Tokens (draft-ietf-wimse-wpt): the proof that the presenter of a WIT holds
 * its `cnf` key, bound to one request. Header `{alg, typ: "wpt+jwt"}` with `alg` = the WIT's
 * `cnf.jwk.alg`; claims `aud` (the target URI, no query or fragment), `exp` (seconds ahead),
 * `iat`, `jti` (128 random bits), `wth` (base64url SHA-256 of the WIT), and `ath` / `tth` /
 * `oth` (hashes of an access token, a Txn-Token, other tokens) when they ride along.
 *
 * Trust: a WPT is as good as the secrecy of the workload key; it is short-lived and single use
 * at a verifier with a replay cache.
 */
import { createHash, type KeyObject, randomBytes } from 'node:crypto'
import { SigilError } from '../errors.js'
import { decodeCompactJws, signCompactJws } from '../jws/compact-jws.js'
import {
  algorithmFitsKey,
  isJwtSvidAlgorithm,
  type JwtSvidAlgorithm,
} from '../jwtsvid/jwt-svid-algorithms.js'

/** The JWS `typ` of a WPT. */
export const WPT_TYPE = 'wpt+jwt'
/** The HTTP header a WPT travels in. */
export const WPT_HEADER = 'Workload-Proof-Token'
/** Default WPT lifetime, seconds. */
export const DEFAULT_WPT_TTL_SECONDS = 60
/** Longest WPT lifetime {@link createWorkloadProofToken} writes and verifiers accept by default. */
export const MAX_WPT_TTL_SECONDS = 300

/** What {@link createWorkloadProofToken} needs. */
export interface CreateWorkloadProofTokenOptions {
  /** The WIT-SVID this proof goes with. */
  wit: string
  /** The private half of the WIT's `cnf.jwk`. */
  privateKey: KeyObject
  /** The target URI (scheme, host, path; no query or fragment). */
  audience: string
  /** Default {@link DEFAULT_WPT_TTL_SECONDS}, at most {@link MAX_WPT_TTL_SECONDS}. */
  ttlSeconds?: number
  now?: Date
  /** An OAuth access token sent with the request: bound as `ath`. */
  accessToken?: string
  /** A Txn-Token sent with the request: bound as `tth`. */
  txnToken?: string
  /** Other tokens sent with the request, by name: bound as `oth` {name: hash}. */
  otherTokens?: Readonly<Record<string, string>>
}

/** base64url(SHA-256(ASCII token)): the `wth`/`ath`/`tth`/`oth` value of a token. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'latin1').digest('base64url')
}

/**
 * Creates a WPT for one request. Throws `TypeError` for bad arguments, for a key that is not the
 * WIT's `cnf` key type, or for an audience with a query or fragment; `ERR_JWT_INVALID` when
 * `wit` is not a compact JWS with a `cnf.jwk.alg`.
 *
 * @example
 * const wpt = createWorkloadProofToken({ wit, privateKey, audience: 'https://api.example.org/orders' })
 * fetch(url, { headers: { 'Workload-Identity-Token': wit, 'Workload-Proof-Token': wpt } })
 */
export function createWorkloadProofToken(opts: CreateWorkloadProofTokenOptions): string {
  const { wit, privateKey, audience } = opts ?? ({} as CreateWorkloadProofTokenOptions)
  if (typeof wit !== 'string' || wit === '') throw new TypeError('wit must be a non-empty string')
  if (privateKey?.type !== 'private') throw new TypeError('privateKey must be a private KeyObject')
  if (typeof audience !== 'string' || audience === '' || /[?#]/.test(audience)) {
    throw new TypeError('audience must be a non-empty target URI without query or fragment')
  }
  const ttl = opts.ttlSeconds ?? DEFAULT_WPT_TTL_SECONDS
  if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_WPT_TTL_SECONDS) {
    throw new TypeError(`ttlSeconds must be a whole number from 1 to ${MAX_WPT_TTL_SECONDS}`)
  }
  const now = opts.now ?? new Date()
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('now must be a valid Date')
  const alg = confirmationAlgorithmOf(wit)
  if (!algorithmFitsKey(alg, privateKey))
    throw new TypeError(`the key does not fit the WIT's cnf.jwk alg ${alg}`)
  const iat = Math.floor(now.getTime() / 1000)
  const claims: Record<string, unknown> = {
    aud: audience,
    exp: iat + ttl,
    iat,
    jti: randomBytes(16).toString('base64url'),
    wth: tokenHash(wit),
  }
  if (opts.accessToken !== undefined) claims.ath = tokenHash(checkToken(opts.accessToken, 'accessToken'))
  if (opts.txnToken !== undefined) claims.tth = tokenHash(checkToken(opts.txnToken, 'txnToken'))
  if (opts.otherTokens !== undefined) {
    const oth: Record<string, string> = {}
    for (const [name, token] of Object.entries(opts.otherTokens))
      oth[name] = tokenHash(checkToken(token, name))
    if (Object.keys(oth).length > 0) claims.oth = oth
  }
  return signCompactJws({ alg, typ: WPT_TYPE }, claims, privateKey)
}

/** The WIT's `cnf.jwk.alg` (the holder's own WIT: read, not verified; the key import is skipped). */
function confirmationAlgorithmOf(wit: string): JwtSvidAlgorithm {
  const cnf = decodeCompactJws(wit, 'WIT-SVID').payload.cnf as { jwk?: { alg?: unknown } } | undefined
  const alg = typeof cnf === 'object' && cnf !== null ? cnf.jwk?.alg : undefined
  if (!isJwtSvidAlgorithm(alg))
    throw new SigilError('ERR_JWT_INVALID', 'invalid WIT-SVID: no allowed "cnf.jwk.alg"')
  return alg
}

function checkToken(token: unknown, name: string): string {
  if (typeof token !== 'string' || token === '') throw new TypeError(`${name} must be a non-empty string`)
  return token
}
