/**
 * The issuance loop (internal to agent/cache/): finds every (process, entry) whose X509-SVID is
 * missing, belongs to an older entry revision or is due for renewal, gets them signed in
 * batches, installs the results and pushes snapshots. Failures are logged and retried with
 * backoff while the still-valid SVID keeps being served; the loop never throws.
 */
import type { KeyType } from '../../certs/keys/keys.js'
import type { SvidIssuer } from './authorized-state.js'
import { type CacheLogger, errorText } from './cache-logger.js'
import type { ProcessRecord } from './process-record.js'
import { renewalTime, retryDelayMs, shouldRenew } from './rotation-policy.js'
import { issueX509Svids, type X509SvidNeed } from './x509-svid-batcher.js'

/** A renewal is never scheduled sooner than this after issuance (guards against tiny lifetimes). */
const MIN_RENEW_AFTER_MS = 1_000

/** What the loop needs from the cache. */
export interface SvidRotator {
  readonly cfg: {
    readonly issuer: SvidIssuer
    readonly logger: CacheLogger
    readonly keyType: KeyType
    readonly rotationFraction: number
    readonly clock: () => Date
    readonly retryInitialMs: number
    readonly retryMaxMs: number
    readonly random: () => number
  }
  closed: boolean
  issuing: boolean
  records(): Iterable<ProcessRecord>
  publish(rec: ProcessRecord): void
}

/**
 * Runs issuance until nothing is due; returns the earliest pending retry time (epoch ms), if
 * any. Returns at once when a round is already running (that round picks up new needs).
 */
export async function runIssuanceRound(r: SvidRotator): Promise<number | undefined> {
  if (r.issuing || r.closed) return undefined
  r.issuing = true
  try {
    for (;;) {
      const needs = dueNeeds(r)
      if (needs.length === 0 || r.closed) break
      for (const n of needs) n.owner.inflight.add(n.entry.id)
      const outcomes = await issueX509Svids(r.cfg.issuer, r.cfg.keyType, needs, r.cfg.clock)
      const touched = new Set<ProcessRecord>()
      const failed = new Map<string, string[]>()
      for (const o of outcomes) {
        const rec = o.need.owner
        const entry = o.need.entry
        rec.inflight.delete(entry.id)
        if (rec.dropped) continue
        if ('svid' in o) {
          const current = rec.matched.find((e) => e.id === entry.id)
          if (current === undefined || current.spiffeId !== o.svid.spiffeId) continue
          const renewAt = renewalTime(
            o.svid.issuedAt,
            o.svid.notAfter,
            r.cfg.rotationFraction,
            r.cfg.random(),
          )
          const earliest = o.svid.issuedAt.getTime() + MIN_RENEW_AFTER_MS
          rec.svids.set(entry.id, {
            ...o.svid,
            entryId: entry.id,
            revision: entry.revisionNumber,
            renewAt: renewAt.getTime() < earliest ? new Date(earliest) : renewAt,
          })
          rec.retries.delete(entry.id)
          touched.add(rec)
          r.cfg.logger.info(
            {
              pid: rec.pid,
              entry_id: entry.id,
              spiffe_id: o.svid.spiffeId,
              expires_at: o.svid.notAfter.toISOString(),
            },
            'X509-SVID issued for workload',
          )
        } else {
          const failures = (rec.retries.get(entry.id)?.failures ?? 0) + 1
          const delay = retryDelayMs(failures, r.cfg.retryInitialMs, r.cfg.retryMaxMs, r.cfg.random())
          rec.retries.set(entry.id, { failures, retryAt: r.cfg.clock().getTime() + delay })
          const why = errorText(o.error)
          failed.set(why, [...(failed.get(why) ?? []), entry.id])
          r.cfg.logger.debug(
            { pid: rec.pid, entry_id: entry.id, failures, retry_in_ms: delay },
            'X509-SVID issuance failed',
          )
        }
      }
      for (const [why, ids] of failed) {
        r.cfg.logger.warn(
          { err: why, count: ids.length, entry_ids: [...new Set(ids)].slice(0, 10) },
          'could not get workload X509-SVIDs signed; serving cached SVIDs and retrying',
        )
      }
      for (const rec of touched) r.publish(rec)
    }
  } catch (err) {
    r.cfg.logger.error({ err: errorText(err) }, 'workload SVID issuance loop failed')
  } finally {
    r.issuing = false
  }
  return earliestRetry(r)
}

function dueNeeds(r: SvidRotator): X509SvidNeed<ProcessRecord>[] {
  const now = r.cfg.clock()
  const needs: X509SvidNeed<ProcessRecord>[] = []
  for (const rec of r.records()) {
    if (rec.dropped || !rec.wantsX509) continue
    for (const entry of rec.matched) {
      if (rec.inflight.has(entry.id)) continue
      const retry = rec.retries.get(entry.id)
      if (retry !== undefined && retry.retryAt > now.getTime()) continue
      const held = rec.svids.get(entry.id)
      if (held === undefined || held.revision !== entry.revisionNumber || shouldRenew(now, held.renewAt)) {
        needs.push({ owner: rec, entry })
      }
    }
  }
  return needs
}

function earliestRetry(r: SvidRotator): number | undefined {
  let at: number | undefined
  for (const rec of r.records()) {
    for (const retry of rec.retries.values()) if (at === undefined || retry.retryAt < at) at = retry.retryAt
  }
  return at
}
