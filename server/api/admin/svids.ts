/** Admin handler for `svid list`: the issuance record (the audit trail), newest first. */
import { SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { SvidRecord__Output as SvidRecordMessage } from '../../../proto/generated/sigil/admin/v1/SvidRecord.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { IssuedSvidFilter, IssuedSvidRecord } from '../../datastore/records.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { MAX_SINCE_SECONDS } from './max-since-seconds.js'
import { unary } from './unary.js'

export { MAX_SINCE_SECONDS } from './max-since-seconds.js'

/** At most this many records per `svid list` answer (the newest ones). */
export const MAX_LISTED_SVIDS = 10_000

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000)

/** The wire form of one issuance record. */
export function svidRecordToMessage(r: IssuedSvidRecord, revokedAt?: Date): SvidRecordMessage {
  return {
    kind: r.kind,
    serial: r.kind === 'x509' ? r.serialOrJti : '',
    jti: r.kind === 'jwt' ? r.serialOrJti : '',
    spiffe_id: r.spiffeId,
    entry_id: r.entryId,
    agent_id: r.agentId,
    not_before: seconds(r.notBefore),
    not_after: seconds(r.notAfter),
    audience: [...r.audience],
    issued_at: seconds(r.issuedAt),
    revoked_at: revokedAt === undefined ? 0 : seconds(revokedAt),
  }
}

/** The handler for `svid list`. */
export function svidHandlers(deps: AdminApiDeps): Pick<AdminAPIHandlers, 'ListSvids'> {
  const { datastore, logger, clock, revocations } = deps
  return {
    ListSvids: unary('ListSvids', logger, async (req) => {
      const filter: { -readonly [K in keyof IssuedSvidFilter]: IssuedSvidFilter[K] } = {
        limit: MAX_LISTED_SVIDS,
      }
      if (req.spiffe_id !== '') filter.spiffeId = SpiffeId.parse(req.spiffe_id).toString()
      if (req.agent_id !== '') filter.agentId = SpiffeId.parse(req.agent_id).toString()
      const since = req.since_seconds
      if (!Number.isSafeInteger(since) || since < 0 || since > MAX_SINCE_SECONDS) {
        throw new SigilError(
          'ERR_INVALID_ARGUMENT',
          `since_seconds must be a whole number of seconds from 0 to ${MAX_SINCE_SECONDS} (100 years)`,
        )
      }
      if (since > 0) filter.since = new Date(clock().getTime() - since * 1000)
      const records = await datastore.listIssuedSvids(filter)
      return {
        svids: records.map((r) =>
          svidRecordToMessage(
            r,
            revocations.get(r.kind === 'x509' ? 'x509_serial' : 'jwt_jti', r.serialOrJti)?.revokedAt,
          ),
        ),
      }
    }),
  }
}
