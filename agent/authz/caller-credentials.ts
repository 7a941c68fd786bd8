/**
 * Verifies the credentials a tool's caller presented (Authorize): a JWT-SVID, a Txn-Token, an
 * X509-SVID chain, against the agent's own bundles and revocation list. Nothing the tool server
 * says about its caller is believed: only what verifies here. A credential that does not verify
 * is a reason to deny (returned, not thrown); only a caller's bug throws.
 *
 * Rules: the principal is the SPIFFE ID of the X509-SVID, else of the JWT-SVID, else the
 * Txn-Token's requesting workload; when several are given they must name the same workload.
 * The task is the Txn-Token's (its `txn` must match a task JWT-SVID's `txn`), else a task
 * JWT-SVID's `txn` claim alone.
 */
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { isSigilError } from '../../certs/errors.js'
import { parseJwtSvidInsecure } from '../../certs/jwtsvid/parse-jwt-svid-insecure.js'
import {
  DEFAULT_JWT_LEEWAY_SECONDS,
  type ValidatedJwtSvid,
  validateJwtSvid,
} from '../../certs/jwtsvid/validate-jwt-svid.js'
import { echo } from '../../certs/lib/echo.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { parseActClaim } from '../../certs/txntoken/act-chain.js'
import { verifyTxnToken } from '../../certs/txntoken/verify-txn-token.js'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import { verifyX509Svid } from '../../certs/x509svid/verify-x509-svid.js'
import type { RevokedKind } from '../cache/revocation-set.js'
import type { VerifiedJwtCache } from './verified-jwt-cache.js'
import { type CachedX509, chainKey, type VerifiedX509Cache } from './verified-x509-cache.js'

/** What the tool server forwarded. */
export interface PresentedCredentials {
  readonly jwtSvid: string
  readonly txnToken: string
  /** DER, leaf first. */
  readonly x509SvidChain: readonly Buffer[]
  /** The audiences a JWT-SVID may carry (one is enough). */
  readonly audiences: readonly string[]
}

/** The task the caller works in, as its credentials say. */
export interface CallerTask {
  readonly id: string
  readonly purpose: string
  readonly scope: readonly string[]
  readonly deadline: Date
  /** Actors, current first (RFC 8693 `act`). */
  readonly actChain: readonly string[]
  readonly onBehalfOf: string
}

/** The outcome: a verified caller, or the reasons to deny. */
export type VerifiedCaller =
  | { readonly ok: true; readonly spiffeId: string; readonly task?: CallerTask; readonly via: string[] }
  | { readonly ok: false; readonly reasons: string[] }

/** What verification reads. */
export interface CredentialContext {
  /** Our own bundle and federated ones (undefined: none yet). */
  readonly bundles: {
    readonly bundle: TrustBundle
    readonly federatedBundles: ReadonlyMap<string, TrustBundle>
  }
  readonly revocations?: { isRevoked(kind: RevokedKind, value: string): boolean }
  readonly now: Date
  readonly leewaySeconds?: number
  /** Verified JWT-SVIDs to reuse (see verified-jwt-cache.ts). */
  readonly jwtCache?: VerifiedJwtCache
  /** Verified X509-SVID chains to reuse (see verified-x509-cache.ts). */
  readonly x509Cache?: VerifiedX509Cache
}

function problem(kind: string, e: unknown): string {
  const code = isSigilError(e) ? ` (${e.code})` : ''
  const message = e instanceof Error ? e.message : String(e)
  const prefix = `${kind} rejected: `
  return `${kind} rejected${code}: ${message.startsWith(prefix) ? message.slice(prefix.length) : message}`
}

/**
 * Verifies everything presented; the first problem denies.
 *
 * @example
 * const caller = await verifyCallerCredentials({ jwtSvid, txnToken: '', x509SvidChain: [], audiences: ['spiffe://example.org/tool'] }, { bundles, now: new Date() })
 * if (!caller.ok) deny(caller.reasons)
 */
export async function verifyCallerCredentials(
  c: PresentedCredentials,
  ctx: CredentialContext,
): Promise<VerifiedCaller> {
  const own = ctx.bundles.bundle.trustDomain
  const bundleFor = (td: TrustDomain): TrustBundle | undefined =>
    td.equals(own) ? ctx.bundles.bundle : ctx.bundles.federatedBundles.get(td.name)
  const revoked = (kind: RevokedKind, value: unknown): boolean =>
    typeof value === 'string' && ctx.revocations?.isRevoked(kind, value) === true
  const leeway = ctx.leewaySeconds ?? DEFAULT_JWT_LEEWAY_SECONDS
  const ids: { via: string; id: string }[] = []
  let task: CallerTask | undefined
  let jwtTxn: string | undefined

  if (c.x509SvidChain.length > 0) {
    try {
      const { result: v, serialHex: serial } = verifyX509Cached(c.x509SvidChain, ctx, bundleFor)
      if (v.spiffeId.memberOf(own) && revoked('x509_serial', serial))
        return { ok: false, reasons: [`X509-SVID rejected: serial ${serial} has been revoked`] }
      ids.push({ via: 'x509-svid', id: v.spiffeId.toString() })
    } catch (e) {
      return { ok: false, reasons: [problem('X509-SVID', e)] }
    }
  }
  if (c.jwtSvid !== '') {
    if (c.audiences.length === 0)
      return { ok: false, reasons: ['JWT-SVID rejected: no audience to check it against'] }
    try {
      const v = await validateCached(c.jwtSvid, c.audiences, ctx, bundleFor, leeway)
      if (v.spiffeId.memberOf(own)) {
        if (revoked('jwt_jti', v.claims.jti))
          return {
            ok: false,
            reasons: [`JWT-SVID rejected: jti ${echo(String(v.claims.jti))} has been revoked`],
          }
        if (revoked('txn', v.claims.txn))
          return {
            ok: false,
            reasons: [`JWT-SVID rejected: its task ${echo(String(v.claims.txn))} has been revoked`],
          }
        if (typeof v.claims.txn === 'string') {
          jwtTxn = v.claims.txn
          let actChain: string[] = []
          try {
            actChain = parseActClaim(v.claims.act)
          } catch {
            actChain = []
          }
          task = {
            id: v.claims.txn,
            purpose: '',
            scope: [],
            deadline: v.expiresAt,
            actChain,
            onBehalfOf: '',
          }
        }
      }
      ids.push({ via: 'jwt-svid', id: v.spiffeId.toString() })
    } catch (e) {
      return { ok: false, reasons: [problem('JWT-SVID', e)] }
    }
  }
  if (c.txnToken !== '') {
    try {
      const t = await verifyTxnToken(c.txnToken, {
        trustDomain: own,
        bundle: ctx.bundles.bundle,
        now: ctx.now,
        leewaySeconds: leeway,
      })
      if (revoked('txn', t.txn))
        return { ok: false, reasons: [`Txn-Token rejected: task ${echo(t.txn)} has been revoked (it ended)`] }
      if (jwtTxn !== undefined && jwtTxn !== t.txn)
        return {
          ok: false,
          reasons: [
            `Txn-Token rejected: it is for task ${echo(t.txn)}, the JWT-SVID for task ${echo(jwtTxn)}`,
          ],
        }
      task = {
        id: t.txn,
        purpose: t.purpose,
        scope: t.scope,
        deadline: t.deadline,
        actChain: t.actors,
        onBehalfOf: t.subject,
      }
      ids.push({ via: 'txn-token', id: t.requestingWorkload.toString() })
    } catch (e) {
      return { ok: false, reasons: [problem('Txn-Token', e)] }
    }
  }
  if (ids.length === 0) return { ok: false, reasons: ['no credential was presented'] }
  const principal = ids[0]!.id
  const other = ids.find((x) => x.id !== principal)
  if (other !== undefined)
    return {
      ok: false,
      reasons: [`the credentials name different workloads: ${ids.map((x) => `${x.via} ${x.id}`).join(', ')}`],
    }
  return { ok: true, spiffeId: principal, via: ids.map((x) => x.via), ...(task ? { task } : {}) }
}

/** `validateJwtSvid`, through the memo when there is one. */
async function validateCached(
  token: string,
  audiences: readonly string[],
  ctx: CredentialContext,
  bundleFor: (td: TrustDomain) => TrustBundle | undefined,
  leeway: number,
): Promise<ValidatedJwtSvid> {
  const cache = ctx.jwtCache
  let bundle: TrustBundle | undefined
  if (cache !== undefined) {
    try {
      bundle = bundleFor(parseJwtSvidInsecure(token).spiffeId.trustDomain)
    } catch {
      bundle = undefined
    }
    const hit = cache.get(token, audiences, bundle, ctx.now, leeway)
    if (hit !== undefined) return hit
  }
  const v = await validateJwtSvid(token, {
    audience: audiences,
    now: ctx.now,
    leewaySeconds: leeway,
    bundleFor,
  })
  if (cache !== undefined && bundle !== undefined) cache.set(token, audiences, bundle, v)
  return v
}

/** `verifyX509Svid` and the leaf's serial, through the memo when there is one. */
function verifyX509Cached(
  chain: readonly Buffer[],
  ctx: CredentialContext,
  bundleFor: (td: TrustDomain) => TrustBundle | undefined,
): CachedX509 {
  const cache = ctx.x509Cache
  const key = cache === undefined ? '' : chainKey(chain)
  // only chains of our own trust domain are kept, under our own bundle
  const hit = cache?.get(key, ctx.bundles.bundle, ctx.now)
  if (hit !== undefined) return hit
  const result = verifyX509Svid(chain, (td) => bundleFor(td)?.x509Authorities, { now: ctx.now })
  const own = result.spiffeId.trustDomain.equals(ctx.bundles.bundle.trustDomain)
  if (cache !== undefined && own) return cache.set(key, ctx.bundles.bundle, result)
  return { result, serialHex: readCertificateFacts(chain[0]!).serialHex }
}
