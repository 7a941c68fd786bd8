/**
 * Verifies a Workload Proof Token (draft-ietf-wimse-wpt) against the WIT-SVID it came with,
 * already validated (`validateWitSvid`): header exactly `{alg, typ: "wpt+jwt"}` (a `kid` is
 * tolerated) with `alg` = the WIT's `cnf.jwk.alg`; the signature by the `cnf` key; `exp`
 * present and at most `maxLifetimeSeconds` ahead; `aud` one of the configured audiences (the
 * caller's configuration, never the request's Host); `jti` present (and new, with a replay
 * cache); `wth` = the WIT's hash; `ath` / `tth` / `oth` matching the tokens the request carries,
 * and no hash for a token it does not carry.
 */
import { timingSafeEqual } from 'node:crypto'
import { SigilError } from '../errors.js'
import { decodeCompactJws, verifyCompactJws } from '../jws/compact-jws.js'
import { checkOptions, checkTimes, type ValidatedWitSvid } from '../witsvid/validate-wit-svid.js'
import { MAX_WPT_TTL_SECONDS, tokenHash, WPT_TYPE } from './create-workload-proof-token.js'
import type { JtiReplayCache } from './jti-replay-cache.js'

const HEADER_MEMBERS = new Set(['alg', 'typ', 'kid'])

/** Options for {@link verifyWorkloadProofToken}. */
export interface VerifyWorkloadProofTokenOptions {
  /** The WIT-SVID as sent (its hash must be `wth`). */
  wit: string
  /** That WIT, validated: its `cnf` key verifies the WPT. */
  validatedWit: Pick<ValidatedWitSvid, 'confirmationKey' | 'confirmationAlgorithm'>
  /** The target URI(s) this service answers to; `aud` must be one of them. */
  audience: string | readonly string[]
  now?: Date
  /** Leeway for `exp`/`iat`, 0..300 s; default 30 s. */
  leewaySeconds?: number
  /** `exp` may lie at most this far ahead; default {@link MAX_WPT_TTL_SECONDS}. */
  maxLifetimeSeconds?: number
  /** When set, a `jti` seen before is refused with `ERR_TOKEN_USED`. */
  replayCache?: JtiReplayCache
  accessToken?: string
  txnToken?: string
  otherTokens?: Readonly<Record<string, string>>
}

/** A verified WPT. */
export interface VerifiedWorkloadProofToken {
  jti: string
  audience: string
  expiresAt: Date
  claims: Record<string, unknown>
}

/**
 * Verifies a WPT. Throws `SigilError` with `ERR_JWT_INVALID`, `ERR_JWT_ALG_NOT_ALLOWED`,
 * `ERR_JWT_SIGNATURE_INVALID`, `ERR_JWT_EXPIRED`, `ERR_JWT_NOT_YET_VALID`,
 * `ERR_JWT_AUDIENCE_MISMATCH`, `ERR_TOKEN_USED` (replayed `jti`) or `ERR_RESOURCE_EXHAUSTED`
 * (replay cache full); `TypeError` for bad options.
 *
 * @example
 * const wit = validateWitSvid(witToken, { bundleFor })
 * verifyWorkloadProofToken(wpt, { wit: witToken, validatedWit: wit, audience: 'https://api.example.org/orders', replayCache })
 */
export function verifyWorkloadProofToken(
  wpt: string,
  opts: VerifyWorkloadProofTokenOptions,
): VerifiedWorkloadProofToken {
  const { now, skew } = checkOptions(opts, false)
  const expected = typeof opts.audience === 'string' ? [opts.audience] : opts.audience
  if (
    !Array.isArray(expected) ||
    expected.length === 0 ||
    !expected.every((a) => typeof a === 'string' && a !== '')
  ) {
    throw new TypeError('audience must be a non-empty string or array of non-empty strings')
  }
  if (typeof opts.wit !== 'string') throw new TypeError('wit must be a string')
  const maxLifetime = opts.maxLifetimeSeconds ?? MAX_WPT_TTL_SECONDS
  const invalid = (why: string): never => {
    throw new SigilError('ERR_JWT_INVALID', `WPT rejected: ${why}`)
  }
  const jws = decodeCompactJws(wpt, 'WPT')
  const { alg, typ } = jws.header
  const { confirmationKey, confirmationAlgorithm } = opts.validatedWit
  if (alg !== confirmationAlgorithm) {
    throw new SigilError(
      'ERR_JWT_ALG_NOT_ALLOWED',
      `WPT algorithm "${String(alg).slice(0, 20)}" is not the WIT's cnf.jwk alg ${confirmationAlgorithm}`,
    )
  }
  for (const name of Object.keys(jws.header)) {
    if (!HEADER_MEMBERS.has(name)) invalid(`header member "${name.slice(0, 40)}" is not allowed`)
  }
  if (typ !== WPT_TYPE) invalid(`header "typ" must be "${WPT_TYPE}"`)
  if (!verifyCompactJws(jws, confirmationAlgorithm, confirmationKey)) {
    throw new SigilError('ERR_JWT_SIGNATURE_INVALID', "WPT rejected: not signed by the WIT's cnf key")
  }
  const c = jws.payload
  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) invalid('"exp" is missing or not a number')
  if (c.iat !== undefined && (typeof c.iat !== 'number' || !Number.isFinite(c.iat)))
    invalid('"iat" must be a number')
  checkTimes(c, now, skew, 'WPT')
  const t = Math.floor(now.getTime() / 1000)
  if ((c.exp as number) > t + maxLifetime + skew) invalid(`"exp" lies more than ${maxLifetime} s ahead`)
  if (typeof c.aud !== 'string' || !expected.includes(c.aud)) {
    throw new SigilError('ERR_JWT_AUDIENCE_MISMATCH', 'WPT rejected: "aud" is not this service')
  }
  if (typeof c.jti !== 'string' || c.jti.length < 16 || c.jti.length > 256)
    invalid('"jti" is missing or not 16..256 characters')
  if (!sameHash(c.wth, tokenHash(opts.wit))) invalid('"wth" is not the hash of the WIT sent')
  checkBinding(c.ath, opts.accessToken, 'ath', 'access token', invalid)
  checkBinding(c.tth, opts.txnToken, 'tth', 'Txn-Token', invalid)
  checkOtherTokens(c.oth, opts.otherTokens ?? {}, invalid)
  if (
    opts.replayCache !== undefined &&
    !opts.replayCache.remember(c.jti as string, (c.exp as number) + skew, t)
  ) {
    throw new SigilError('ERR_TOKEN_USED', 'WPT rejected: its "jti" was used before')
  }
  return {
    jti: c.jti as string,
    audience: c.aud,
    expiresAt: new Date((c.exp as number) * 1000),
    claims: { ...c },
  }
}

function sameHash(claim: unknown, expected: string): boolean {
  if (typeof claim !== 'string' || claim.length !== expected.length) return false
  return timingSafeEqual(Buffer.from(claim), Buffer.from(expected))
}

function checkBinding(
  claim: unknown,
  token: string | undefined,
  name: string,
  what: string,
  invalid: (why: string) => never,
): void {
  if (token === undefined) {
    if (claim !== undefined) invalid(`"${name}" binds a ${what} the request does not carry`)
    return
  }
  if (!sameHash(claim, tokenHash(token))) invalid(`"${name}" is missing or not the hash of the ${what} sent`)
}

function checkOtherTokens(
  claim: unknown,
  tokens: Readonly<Record<string, string>>,
  invalid: (why: string) => never,
): void {
  const names = Object.keys(tokens)
  if (claim === undefined) {
    if (names.length > 0) invalid('"oth" is missing')
    return
  }
  if (typeof claim !== 'object' || claim === null || Array.isArray(claim)) invalid('"oth" must be an object')
  const oth = claim as Record<string, unknown>
  for (const name of Object.keys(oth)) {
    if (!Object.hasOwn(tokens, name))
      invalid(`"oth" binds a token "${name.slice(0, 40)}" the request does not carry`)
  }
  for (const name of names) {
    if (!sameHash(oth[name], tokenHash(tokens[name] as string)))
      invalid(`"oth.${name.slice(0, 40)}" does not match`)
  }
}
