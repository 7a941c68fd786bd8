/**
 * The trust domain's bundle when several servers share one datastore (issue 15): each server
 * has its own X.509 CAs and JWT/WIT keys and contributes them to the one stored bundle, which is
 * the union of every live server's authorities. This module is the merge rule, pure and small:
 *
 * - this server's part is exactly what it wants published now (`desired`): its prepared,
 *   active and retired authorities;
 * - an authority this server once published and no longer wants (dropped after retirement,
 *   or removed by `localauthority revoke`) leaves the bundle;
 * - every other authority in the stored bundle belongs to another server and stays, except
 *   an X.509 CA whose certificate has expired (it can verify nothing any more);
 * - `replaceForeign` (the first publish after `--allow-new-ca`) drops the other authorities:
 *   the operator said the old CA is to be replaced.
 *
 * Trust: the stored bundle is trusted as much as the datastore is (whoever can write it can
 * add a root anyway). A JWT/WIT key carries no expiry in the SPIFFE bundle format, so a
 * server decommissioned for good leaves its last keys published until an operator removes
 * them (README, "Scale-out").
 */
import { X509Certificate } from 'node:crypto'
import { type JwtAuthority, TrustBundle } from '../../certs/bundle/trust-bundle.js'

/** The authorities one server has published during this run (so it knows what it may remove). */
export class OwnedAuthorities {
  readonly #x509 = new Set<string>()
  readonly #jwt = new Set<string>()
  readonly #wit = new Set<string>()

  /** Remembers every authority of `bundle` as this server's. */
  add(bundle: TrustBundle): void {
    for (const der of bundle.x509Authorities) this.#x509.add(der.toString('base64'))
    for (const a of bundle.jwtAuthorities) this.#jwt.add(a.kid)
    for (const a of bundle.witAuthorities) this.#wit.add(a.kid)
  }

  ownsX509(der: Buffer): boolean {
    return this.#x509.has(der.toString('base64'))
  }
  ownsJwt(kid: string): boolean {
    return this.#jwt.has(kid)
  }
  ownsWit(kid: string): boolean {
    return this.#wit.has(kid)
  }
}

/** What {@link mergeSharedBundle} takes. */
export interface SharedBundleMerge {
  /** The bundle in the datastore now (undefined: none, or unreadable). */
  readonly stored: TrustBundle | undefined
  /** This server's authorities, as it wants them published (its refresh hint wins). */
  readonly desired: TrustBundle
  /** Everything this server published before (`desired` included). */
  readonly owned: OwnedAuthorities
  readonly now: Date
  /** Drop every authority of other servers (after `--allow-new-ca`). */
  readonly replaceForeign?: boolean
}

/**
 * The bundle to store: stored order kept for what stays, this server's new authorities
 * appended. The sequence number is the stored one (the caller bumps it on a change).
 *
 * @example
 * const next = mergeSharedBundle({ stored, desired, owned, now: clock() })
 * if (!next.equals(stored)) store(next.withSequence(stored.sequenceNumber + 1))
 */
export function mergeSharedBundle(m: SharedBundleMerge): TrustBundle {
  const { stored, desired, owned } = m
  const keepForeign = !m.replaceForeign
  const x509: Buffer[] = []
  for (const der of stored?.x509Authorities ?? []) {
    const mine = owned.ownsX509(der) || desired.hasX509Authority(der)
    if (mine ? desired.hasX509Authority(der) : keepForeign && !expired(der, m.now)) x509.push(der)
  }
  for (const der of desired.x509Authorities) if (!x509.some((d) => d.equals(der))) x509.push(der)

  const keys = (
    storedKeys: readonly JwtAuthority[],
    desiredKeys: readonly JwtAuthority[],
    owns: (kid: string) => boolean,
  ): JwtAuthority[] => {
    const wanted = new Map(desiredKeys.map((a) => [a.kid, a]))
    const out: JwtAuthority[] = []
    for (const a of storedKeys) {
      const mine = owns(a.kid) || wanted.has(a.kid)
      if (mine) {
        const want = wanted.get(a.kid)
        if (want) out.push(want)
      } else if (keepForeign) {
        out.push(a)
      }
    }
    for (const a of desiredKeys) if (!out.some((o) => o.kid === a.kid)) out.push(a)
    return out
  }
  return TrustBundle.create({
    trustDomain: desired.trustDomain,
    x509Authorities: x509,
    jwtAuthorities: keys(stored?.jwtAuthorities ?? [], desired.jwtAuthorities, (k) => owned.ownsJwt(k)),
    witAuthorities: keys(stored?.witAuthorities ?? [], desired.witAuthorities, (k) => owned.ownsWit(k)),
    sequenceNumber: stored?.sequenceNumber ?? 0,
    ...(desired.refreshHintSeconds !== undefined ? { refreshHintSeconds: desired.refreshHintSeconds } : {}),
  })
}

function expired(der: Buffer, now: Date): boolean {
  try {
    return new Date(new X509Certificate(der).validTo).getTime() <= now.getTime()
  } catch {
    return true // an unparseable certificate would have failed decoding already; drop it anyway
  }
}
