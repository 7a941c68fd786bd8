/**
 * BatchNewX509Svid, the issuance hot path: one authorization query per call, then parse
 * every CSR, sign every SVID (SPIFFE ID, DNS names and TTL from the ENTRY, only the public
 * key from the CSR), and write all issuance records in one transaction before anything is
 * released. All or nothing: shape problems (too many params, empty or duplicate entry IDs,
 * a bad CSR) are INVALID_ARGUMENT; any entry the agent may not serve makes the whole call
 * PERMISSION_DENIED (checked before the CSRs, and logged).
 */
import { isSigilError, SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { parseCsr } from '../../../certs/x509svid/csr.js'
import type { BatchNewX509SvidRequest__Output } from '../../../proto/generated/sigil/agent/v1/BatchNewX509SvidRequest.js'
import type { BatchNewX509SvidResponse } from '../../../proto/generated/sigil/agent/v1/BatchNewX509SvidResponse.js'
import { issuanceEvent } from '../../audit/issuance-event.js'
import type { IssuedSvidRecord } from '../../datastore/datastore.js'
import { enforceSigning } from '../../policy/signing-policy.js'
import { type AgentApiContext, MAX_BATCH_SIZE } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'
import { toWireX509Svid } from './agent-wire.js'
import { authorizedEntries, requireAuthorizedEntry } from './authorized-entries.js'
import { x509IssuanceRecord } from './issuance-record.js'

const METHOD = 'BatchNewX509Svid'

/**
 * Mints one X509-SVID per (entry, CSR) pair for the calling agent.
 *
 * @example
 * const { results } = await batchNewX509Svid(deps, caller, { params: [{ entry_id, csr }] })
 */
export async function batchNewX509Svid(
  deps: AgentApiContext,
  caller: AuthenticatedAgent,
  req: BatchNewX509SvidRequest__Output,
): Promise<BatchNewX509SvidResponse> {
  const params = req.params
  if (params.length > MAX_BATCH_SIZE) {
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      `at most ${MAX_BATCH_SIZE} CSRs per call, got ${params.length}`,
    )
  }
  const seen = new Set<string>()
  for (const [i, p] of params.entries()) {
    if (!p.entry_id) throw new SigilError('ERR_INVALID_ARGUMENT', `params[${i}].entry_id is empty`)
    if (seen.has(p.entry_id)) {
      throw new SigilError('ERR_INVALID_ARGUMENT', `entry "${p.entry_id.slice(0, 128)}" appears twice`)
    }
    seen.add(p.entry_id)
  }
  if (params.length === 0) return { results: [] }

  const entries = await authorizedEntries(deps, caller)
  const wanted = params.map((p) => requireAuthorizedEntry(deps, entries, caller, p.entry_id, METHOD))
  const policyNow = deps.clock()
  // the policies that permitted each SVID go into its audit record (`svid explain`)
  const permittedBy: string[][] = []
  for (const entry of wanted) {
    const decision = await enforceSigning(deps.policies?.point, {
      action: 'FetchX509SVID',
      entry,
      agent: caller.agent,
      resource: entry.spiffeId,
      now: policyNow,
    })
    permittedBy.push(decision?.policyIds ?? [])
  }
  const keys = await Promise.all(
    params.map(async (p, i) => {
      try {
        if (p.csr.length === 0) throw new SigilError('ERR_CSR_INVALID', 'CSR is empty')
        return (await parseCsr(p.csr)).publicKey
      } catch (e) {
        if (!isSigilError(e)) throw e
        throw new SigilError(e.code, `params[${i}] (entry "${p.entry_id}"): ${e.message}`, { cause: e })
      }
    }),
  )

  const agentId = caller.agentId.toString()
  const now = deps.clock()
  const records: IssuedSvidRecord[] = []
  const results = wanted.map((entry, i) => {
    // Workload SVIDs, the hot path: no per-SVID `validate`; the minter's per-CA template self-test covers them.
    const svid = deps.ca.signX509Svid({
      spiffeId: SpiffeId.parse(entry.spiffeId),
      publicKey: keys[i]!,
      ttlSeconds: entry.x509SvidTtl || deps.defaultX509SvidTtlSeconds,
      dnsNames: entry.dnsNames,
    })
    records.push(x509IssuanceRecord(svid, { entryId: entry.id, agentId }, now))
    return { entry_id: entry.id, svid: toWireX509Svid(svid) }
  })
  await deps.datastore.recordIssuedSvids(records)
  const audit = deps.audit
  if (audit) {
    await Promise.all(
      records.map((r, i) =>
        audit.record(
          issuanceEvent(r, {
            entry: wanted[i]!,
            agent: caller.agent,
            ...(permittedBy[i]?.length ? { details: { policies: permittedBy[i] } } : {}),
          }),
        ),
      ),
    )
  }
  deps.logger.debug({ method: METHOD, agent_id: agentId, count: results.length }, 'X509-SVIDs signed')
  return { results }
}
