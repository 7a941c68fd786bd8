/**
 * Admin handlers for `svid revoke` and `revocation list`. Revocation itself lives in
 * `server/revocation/revocation-list.ts`; this file validates the request (exactly one
 * target) and turns records into wire messages.
 */
import { SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { Revocation__Output as RevocationMessage } from '../../../proto/generated/sigil/admin/v1/Revocation.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { RevocationRecord } from '../../datastore/records.js'
import { normalizeSerial } from '../../revocation/revocation-list.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { unary } from './unary.js'

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000)

/** The wire form of one revocation. */
export function revocationToMessage(r: RevocationRecord): RevocationMessage {
  return {
    kind: r.kind,
    value: r.value,
    reason: r.reason,
    revoked_at: seconds(r.revokedAt),
    expires_at: seconds(r.expiresAt),
    sequence: r.sequence,
  }
}

/** The handlers for `svid revoke` and `revocation list`. */
export function revocationHandlers(
  deps: AdminApiDeps,
): Pick<AdminAPIHandlers, 'RevokeSvid' | 'ListRevocations'> {
  const { revocations, trustDomain } = deps
  return {
    RevokeSvid: unary('RevokeSvid', deps.logger, async (req) => {
      const targets = [req.serial, req.jti, req.spiffe_id, req.task_id].filter((v) => v !== '')
      if (targets.length !== 1) {
        throw new SigilError('ERR_INVALID_ARGUMENT', 'give exactly one of serial, jti, spiffe_id, task_id')
      }
      const reason = req.reason
      if (req.spiffe_id !== '') {
        const id = SpiffeId.parse(req.spiffe_id)
        if (!id.trustDomain.equals(trustDomain)) {
          throw new SigilError(
            'ERR_TRUST_DOMAIN_MISMATCH',
            `spiffe_id must be in trust domain ${trustDomain.name}`,
          )
        }
        const { sequence, revoked } = await revocations.revokeSpiffeId(id.toString(), reason)
        return { sequence, revocations: revoked.map(revocationToMessage) }
      }
      if (req.task_id !== '') {
        if (deps.revokeTask === undefined) {
          throw new SigilError('ERR_INVALID_ARGUMENT', 'task_id: this server has no task service')
        }
        const { sequence, revoked } = await deps.revokeTask(req.task_id, reason)
        return { sequence, revocations: revoked.map(revocationToMessage) }
      }
      const kind = req.serial !== '' ? 'x509_serial' : 'jwt_jti'
      const sequence = await revocations.revoke({ kind, value: req.serial || req.jti, reason })
      const value = kind === 'x509_serial' ? normalizeSerial(req.serial) : req.jti
      const record = revocations.get(kind, value)
      return { sequence, revocations: record ? [revocationToMessage(record)] : [] }
    }),
    ListRevocations: unary('ListRevocations', deps.logger, async () => ({
      sequence: revocations.sequence,
      revocations: revocations.snapshot().map(revocationToMessage),
    })),
  }
}
