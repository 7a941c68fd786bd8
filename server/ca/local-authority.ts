/**
 * Forced rotation (`sigil-server localauthority x509|jwt ...`, SPIRE's `localauthority`): the
 * rules of which authority may be prepared, activated, tainted and revoked, and the public view
 * of each one. SPIRE's rule, followed here: only the prepared authority can be activated, only
 * an old (retired) one can be tainted, and only a tainted one can be revoked; the active one is
 * never tainted or revoked. The CaManager runs these under its lock and then one rotation step,
 * which saves the key store and publishes the bundle.
 *
 * Authority IDs are SPIRE's: an X.509 CA is named by its subject key identifier (lowercase hex,
 * which is also the authority key identifier of every SVID it signed), a JWT key by its `kid`.
 */
import { createHash } from 'node:crypto'
import { SigilError } from '../../certs/errors.js'
import { echo } from '../../certs/lib/echo.js'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import type { Authority, JwtAuthority, X509Authority } from './authority.js'
import type { AuthoritySlots } from './authority-slots.js'

/** The two kinds of local authority. */
export type AuthorityKind = 'x509' | 'jwt'

/** SPIRE's names for the slots: `retired` is shown as `old`. */
export type LocalAuthorityStatus = 'active' | 'prepared' | 'old'

/** The public facts of one authority (no private key). */
export interface LocalAuthorityView {
  readonly authorityId: string
  readonly status: LocalAuthorityStatus
  readonly notBefore: Date
  readonly notAfter: Date
  readonly tainted: boolean
  readonly signedUntil?: Date
  /** X.509 only. */
  readonly certDer?: Buffer
}

/** The authorities of one kind by slot, as `localauthority show` prints them. */
export interface LocalAuthorities {
  readonly active?: LocalAuthorityView
  readonly prepared?: LocalAuthorityView
  readonly old: LocalAuthorityView[]
}

/**
 * An X.509 CA's authority ID: its subject key identifier in lowercase hex (SHA-1 of the
 * public key when the certificate has none).
 *
 * @example
 * x509AuthorityId(caCertDer) // '3f0c…'
 */
export function x509AuthorityId(certDer: Buffer): string {
  const facts = readCertificateFacts(certDer)
  return (facts.subjectKeyId ?? createHash('sha1').update(facts.spkiDer).digest()).toString('hex')
}

/** The authority ID of `a` (see the module comment). */
export function authorityIdOf(kind: AuthorityKind, a: Authority): string {
  return kind === 'x509' ? x509AuthorityId((a as X509Authority).certDer) : (a as JwtAuthority).kid
}

/** The public view of one authority. */
export function viewOf(kind: AuthorityKind, a: Authority): LocalAuthorityView {
  return {
    authorityId: authorityIdOf(kind, a),
    status: a.status === 'retired' ? 'old' : a.status,
    notBefore: a.notBefore,
    notAfter: a.notAfter,
    tainted: a.tainted === true,
    ...(a.signedUntil ? { signedUntil: a.signedUntil } : {}),
    ...(kind === 'x509' ? { certDer: (a as X509Authority).certDer } : {}),
  }
}

/** The authorities of `kind` by slot; old ones newest first. */
export function listLocalAuthorities(slots: AuthoritySlots, kind: AuthorityKind): LocalAuthorities {
  const list: readonly Authority[] = slots[kind]
  const active = list.find((a) => a.status === 'active')
  const prepared = list.find((a) => a.status === 'prepared')
  return {
    ...(active ? { active: viewOf(kind, active) } : {}),
    ...(prepared ? { prepared: viewOf(kind, prepared) } : {}),
    old: list
      .filter((a) => a.status === 'retired')
      .sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime())
      .map((a) => viewOf(kind, a)),
  }
}

/** The X.509 authority IDs and JWT kids of every tainted authority, for the agents. */
export function taintedAuthorityIds(slots: AuthoritySlots): { x509: string[]; jwt: string[] } {
  return {
    x509: slots.x509.filter((a) => a.tainted).map((a) => authorityIdOf('x509', a)),
    jwt: slots.jwt.filter((a) => a.tainted).map((a) => authorityIdOf('jwt', a)),
  }
}

/**
 * Checks a forced-rotation request and applies it to `slots` (not saved or published yet:
 * the caller runs a rotation step). Throws `ERR_INVALID_ARGUMENT` (missing ID),
 * `ERR_NOT_FOUND` (no authority with the ID) or `ERR_FAILED_PRECONDITION` (SPIRE's rules).
 */
export async function applyLocalAuthorityChange(
  slots: AuthoritySlots,
  kind: AuthorityKind,
  action: 'prepare' | 'activate' | 'taint' | 'revoke',
  authorityId: string,
  now: Date,
): Promise<Authority> {
  if (action === 'prepare') return slots.prepare(kind, now)
  const what = kind === 'x509' ? 'X.509 authority' : 'JWT authority'
  if (authorityId === '')
    throw new SigilError('ERR_INVALID_ARGUMENT', `${action}: an authority ID is required`)
  const list: readonly Authority[] = slots[kind]
  const a = list.find((x) => authorityIdOf(kind, x) === authorityId)
  if (!a) throw new SigilError('ERR_NOT_FOUND', `no ${what} with ID ${echo(authorityId)}`)
  const refuse = (why: string) => new SigilError('ERR_FAILED_PRECONDITION', `${what} ${authorityId}: ${why}`)
  switch (action) {
    case 'activate':
      if (a.status !== 'prepared') {
        throw refuse(`only the prepared authority can be activated (this one is ${viewOf(kind, a).status})`)
      }
      if (!(a.notBefore <= now && now < a.notAfter)) throw refuse('it is not valid now')
      slots.activate(kind, a as X509Authority | JwtAuthority, now)
      return a
    case 'taint':
      if (a.status !== 'retired') {
        throw refuse(
          `only an old authority can be tainted (this one is ${a.status}; prepare and activate a new one first)`,
        )
      }
      if (a.tainted) throw refuse('it is already tainted')
      slots.taint(a)
      return a
    case 'revoke':
      if (a.status !== 'retired') {
        throw refuse(`the ${a.status} authority cannot be revoked (only a tainted old one)`)
      }
      if (!a.tainted) throw refuse('only a tainted authority can be revoked (taint it first)')
      if (kind === 'x509' && slots.hasUpstream) {
        throw refuse('with an upstream CA the bundle holds the upstream root: revoke at the upstream CA')
      }
      slots.revoke(kind, a)
      return a
  }
}
