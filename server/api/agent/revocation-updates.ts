/**
 * The revocation part of what the server tells agents, as `RevocationUpdate` pieces: what
 * an agent holding sequence `known` lacks (a delta, or a snapshot when it holds nothing or
 * is ahead of the server, e.g. after a datastore restore), cut into pieces of at most
 * {@link MAX_REVOCATIONS_PER_UPDATE} so that 100,000 revocations stay under message limits.
 * Used by SyncAuthorizedEntries (first piece only; the next sync continues) and by the
 * WatchAgentUpdates push stream (every piece, then each change).
 */
import { createHash } from 'node:crypto'
import type { CrlUpdate } from '../../../proto/generated/sigil/agent/v1/CrlUpdate.js'
import type { RevocationUpdate } from '../../../proto/generated/sigil/agent/v1/RevocationUpdate.js'
import type { RevocationRecord } from '../../datastore/records.js'
import type { CrlPublisher, CrlSet } from '../../revocation/crl-publisher.js'
import type { RevocationChange, RevocationList } from '../../revocation/revocation-list.js'

/** The most revoked credentials in one `RevocationUpdate`. */
export const MAX_REVOCATIONS_PER_UPDATE = 50_000

/** What the agent API reads from the revocation list (and `revoke` for RevokeExitedSvids). */
export type AgentRevocationSource = Pick<
  RevocationList,
  'sequence' | 'snapshot' | 'since' | 'subscribe' | 'revoke'
>

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000)

function wire(records: readonly RevocationRecord[]): RevocationUpdate['revoked'] {
  return records.map((r) => ({ kind: r.kind, value: r.value, expires_at: seconds(r.expiresAt) }))
}

/**
 * The pieces that bring an agent holding `known` up to date (always at least one).
 *
 * @example
 * for (const piece of revocationPieces(list, req.revocation_sequence)) call.write({ revocations: piece })
 */
export function revocationPieces(
  list: Pick<AgentRevocationSource, 'sequence' | 'snapshot' | 'since'>,
  known: number,
  max = MAX_REVOCATIONS_PER_UPDATE,
): RevocationUpdate[] {
  const current = list.sequence
  const snapshot = known <= 0 || known > current
  const records = snapshot ? list.snapshot() : list.since(known)
  if (records.length === 0) return [{ snapshot, sequence: current, revoked: [], more: false }]
  const pieces: RevocationUpdate[] = []
  for (let i = 0; i < records.length; i += max) {
    const slice = records.slice(i, i + max)
    const last = i + max >= records.length
    pieces.push({
      snapshot: snapshot && i === 0,
      sequence: last ? current : (slice[slice.length - 1]?.sequence ?? current),
      revoked: wire(slice),
      more: !last,
    })
  }
  return pieces
}

/** The delta piece for one change of the list. */
export function changePiece(change: RevocationChange): RevocationUpdate {
  return { snapshot: false, sequence: change.sequence, revoked: wire(change.added), more: false }
}

/** What the agent API reads from the CRL publisher. */
export type AgentCrlSource = Pick<CrlPublisher, 'current' | 'onChange'>

const digests = new WeakMap<CrlSet, string>()

/** Hex SHA-256 over a set's CRLs (computed once per set). */
export function crlDigest(set: CrlSet): string {
  let d = digests.get(set)
  if (d === undefined) {
    const h = createHash('sha256')
    for (const c of set.crls) h.update(createHash('sha256').update(c).digest())
    d = h.digest('hex')
    digests.set(set, d)
  }
  return d
}

/** The CrlUpdate message of a set. */
export function crlUpdate(set: CrlSet): CrlUpdate {
  return { crls: [...set.crls], digest: crlDigest(set) }
}
