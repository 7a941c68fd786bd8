/**
 * Admin handlers for `localauthority x509|jwt show|prepare|activate|taint|revoke` (forced
 * rotation). The rules (SPIRE's: activate only the prepared one, taint only an old one, revoke
 * only a tainted one) live in `server/ca/local-authority.ts`; this file checks the kind and
 * turns views into wire messages. Every change is logged by the CA with the authority ID.
 */
import { SigilError } from '../../../certs/errors.js'
import type { LocalAuthority__Output as LocalAuthorityMessage } from '../../../proto/generated/sigil/admin/v1/LocalAuthority.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { AuthorityKind, LocalAuthorityView } from '../../ca/local-authority.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { unary } from './unary.js'

const seconds = (d: Date | undefined): number => (d ? Math.floor(d.getTime() / 1000) : 0)

/** The wire form of one authority. */
export function localAuthorityToMessage(v: LocalAuthorityView): LocalAuthorityMessage {
  return {
    authority_id: v.authorityId,
    status: v.status,
    not_before: seconds(v.notBefore),
    expires_at: seconds(v.notAfter),
    tainted: v.tainted,
    certificate: v.certDer ?? Buffer.alloc(0),
    signed_until: seconds(v.signedUntil),
  }
}

function kindOf(kind: string): AuthorityKind {
  if (kind === 'x509' || kind === 'jwt') return kind
  throw new SigilError('ERR_INVALID_ARGUMENT', 'kind must be x509 or jwt')
}

/** An X.509 subject key ID (hex) or a JWT kid: letters, digits, `-` and `_`, at most 256. */
function authorityIdOf(id: string): string {
  if (!/^[A-Za-z0-9_-]{0,256}$/.test(id)) {
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      'authority_id must be at most 256 letters, digits, - or _ (as localauthority show prints it)',
    )
  }
  return id
}

/** The `localauthority` handlers. */
export function localAuthorityHandlers(
  deps: AdminApiDeps,
): Pick<
  AdminAPIHandlers,
  | 'GetLocalAuthorities'
  | 'PrepareLocalAuthority'
  | 'ActivateLocalAuthority'
  | 'TaintLocalAuthority'
  | 'RevokeLocalAuthority'
> {
  const { ca, logger } = deps
  const change =
    (action: 'activate' | 'taint' | 'revoke') => async (req: { kind: string; authority_id: string }) => ({
      authority: localAuthorityToMessage(
        await ca.changeLocalAuthority(kindOf(req.kind), action, authorityIdOf(req.authority_id)),
      ),
    })
  return {
    GetLocalAuthorities: unary('GetLocalAuthorities', logger, async (req) => {
      const found = ca.localAuthorities(kindOf(req.kind))
      return {
        active: found.active ? localAuthorityToMessage(found.active) : null,
        prepared: found.prepared ? localAuthorityToMessage(found.prepared) : null,
        old: found.old.map(localAuthorityToMessage),
      }
    }),
    PrepareLocalAuthority: unary('PrepareLocalAuthority', logger, async (req) => ({
      authority: localAuthorityToMessage(await ca.changeLocalAuthority(kindOf(req.kind), 'prepare')),
    })),
    ActivateLocalAuthority: unary('ActivateLocalAuthority', logger, change('activate')),
    TaintLocalAuthority: unary('TaintLocalAuthority', logger, change('taint')),
    RevokeLocalAuthority: unary('RevokeLocalAuthority', logger, change('revoke')),
  }
}
