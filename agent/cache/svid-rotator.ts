/**
 * The issuance loop (internal to agent/cache/): finds every (process, entry) whose X509-SVID is
 * missing, belongs to an older entry revision or is due for renewal, gets them signed in
 * batches, installs the results and pushes snapshots. A process's due SVIDs go out together (in
 * one batch when they fit) and its subscribers get one snapshot once none of its SVIDs is in
 * flight. At most {@link MAX_BATCHES_IN_FLIGHT} batches are in flight, of which at most
 * {@link MAX_BATCHES_PREPARING} are having their keys made; each stage that finishes makes room
 * for the next batch, built from what is due by then (most urgent first), so the pipe stays
 * full, throughput is steady and the keys held stay bounded however much comes due at once. Failures are
 * logged and retried with backoff while the still-valid SVID keeps being served; the loop never
 * throws.
 */
import type { KeyType } from '../../certs/keys/keys.js'
import type { AuthorizedEntry, SvidIssuer } from './authorized-state.js'
import { type CacheLogger, errorText } from './cache-logger.js'
import type { ProcessRecord } from './process-record.js'
import { renewalTime, renewTogether, retryDelayMs } from './rotation-policy.js'
import { MAX_X509_BATCH, prepareX509Batch, sendX509Batch, type X509SvidNeed } from './x509-svid-batcher.js'

/** A renewal is never scheduled sooner than this after issuance (guards against tiny lifetimes). */
const MIN_RENEW_AFTER_MS = 1_000
/** Most issuance batches (of up to {@link MAX_X509_BATCH} CSRs) in flight at once. */
export const MAX_BATCHES_IN_FLIGHT = 8
/**
 * Most batches having their keys and CSRs made at once: they share the agent's one thread, so
 * making them one or two at a time sends the first ones sooner and keeps the server fed.
 */
export const MAX_BATCHES_PREPARING = 2
/** A long-running round logs a summary at least this often. */
const SUMMARY_INTERVAL_MS = 10_000

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
  /** Set while a round waits for a batch: call to make it look for new needs at once. */
  wake?: (() => void) | undefined
  records(): Iterable<ProcessRecord>
  publish(rec: ProcessRecord): void
}

/** What a round did (for its summary log line). */
interface Tally {
  issued: number
  failed: number
  batches: number
  readonly processes: Set<ProcessRecord>
  since: number
}

/**
 * Runs issuance until nothing is due; returns the earliest pending retry time (epoch ms), if
 * any. When a round is already running, wakes it (it picks up new needs) and returns at once.
 */
export async function runIssuanceRound(r: SvidRotator): Promise<number | undefined> {
  if (r.closed) return undefined
  if (r.issuing) {
    r.wake?.()
    return undefined
  }
  r.issuing = true
  const tally: Tally = { issued: 0, failed: 0, batches: 0, processes: new Set(), since: Date.now() }
  const pipe: Pipe = { preparing: 0, inFlight: 0 }
  try {
    for (;;) {
      while (!r.closed && pipe.preparing < MAX_BATCHES_PREPARING && pipe.inFlight < MAX_BATCHES_IN_FLIGHT) {
        const batch = nextBatch(r)
        if (batch.length === 0) break
        void issueBatch(r, batch, tally, pipe)
      }
      if (pipe.inFlight === 0) break
      await new Promise<void>((resolve) => {
        r.wake = resolve
      })
      r.wake = undefined
      if (Date.now() - tally.since >= SUMMARY_INTERVAL_MS) logSummary(r, tally)
    }
  } catch (err) {
    r.cfg.logger.error({ err: errorText(err) }, 'workload SVID issuance loop failed')
  } finally {
    r.issuing = false
    r.wake = undefined
  }
  logSummary(r, tally)
  return earliestRetry(r)
}

function logSummary(r: SvidRotator, tally: Tally): void {
  if (tally.batches > 0) {
    r.cfg.logger.info(
      {
        issued: tally.issued,
        failed: tally.failed,
        processes: tally.processes.size,
        batches: tally.batches,
        duration_ms: Date.now() - tally.since,
      },
      'workload X509-SVIDs issued',
    )
  }
  tally.issued = 0
  tally.failed = 0
  tally.batches = 0
  tally.processes.clear()
  tally.since = Date.now()
}

/** Batches between their first stage (keys and CSRs) and being installed. */
interface Pipe {
  preparing: number
  inFlight: number
}

/** Prepares one batch, gets it signed and installs it, waking the round after each stage; never throws. */
async function issueBatch(
  r: SvidRotator,
  needs: X509SvidNeed<ProcessRecord>[],
  tally: Tally,
  pipe: Pipe,
): Promise<void> {
  pipe.preparing++
  pipe.inFlight++
  try {
    tally.batches++
    const prepared = await prepareX509Batch(r.cfg.keyType, needs)
    pipe.preparing--
    r.wake?.()
    const outcomes = await sendX509Batch(r.cfg.issuer, prepared, r.cfg.clock)
    const touched = new Set<ProcessRecord>()
    const failed = new Map<string, string[]>()
    for (const o of outcomes) {
      const rec = o.need.owner
      const entry = o.need.entry
      rec.inflight.delete(entry.id)
      touched.add(rec)
      if (rec.dropped) continue
      if ('svid' in o) {
        const current = rec.matched.find((e) => e.id === entry.id)
        if (current === undefined || current.spiffeId !== o.svid.spiffeId) continue
        rec.renewalRandom ??= r.cfg.random()
        const renewAt = renewalTime(
          o.svid.issuedAt,
          o.svid.notAfter,
          r.cfg.rotationFraction,
          rec.renewalRandom,
        )
        const earliest = o.svid.issuedAt.getTime() + MIN_RENEW_AFTER_MS
        rec.svids.set(entry.id, {
          ...o.svid,
          entryId: entry.id,
          revision: entry.revisionNumber,
          renewAt: renewAt.getTime() < earliest ? new Date(earliest) : renewAt,
        })
        rec.retries.delete(entry.id)
        rec.unpublished = true
        tally.issued++
        tally.processes.add(rec)
        r.cfg.logger.debug(
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
        tally.failed++
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
    for (const rec of touched) {
      if (rec.unpublished && rec.inflight.size === 0 && !rec.dropped) {
        rec.unpublished = false
        r.publish(rec)
      }
    }
  } catch (err) {
    for (const n of needs) n.owner.inflight.delete(n.entry.id)
    r.cfg.logger.error({ err: errorText(err) }, 'workload SVID issuance batch failed')
  } finally {
    pipe.inFlight--
    r.wake?.()
  }
}

/** One process's due needs and how urgent they are (smaller first). */
interface DueGroup {
  readonly rec: ProcessRecord
  readonly entries: AuthorizedEntry[]
  readonly deadline: number
}

/**
 * The next batch: due needs of whole processes, most urgent first (missing SVIDs, then the
 * renewals closest to expiry, spare SVIDs last), distinct entry IDs, at most {@link MAX_X509_BATCH}; a process
 * with more due needs than fit an empty batch is split. Marks them in flight.
 */
function nextBatch(r: SvidRotator): X509SvidNeed<ProcessRecord>[] {
  const groups = dueGroups(r).sort((a, b) => a.deadline - b.deadline)
  const batch: X509SvidNeed<ProcessRecord>[] = []
  const ids = new Set<string>()
  for (const g of groups) {
    const room = MAX_X509_BATCH - batch.length
    if (room === 0) break
    const whole = g.entries.length <= room && g.entries.every((e) => !ids.has(e.id))
    if (batch.length > 0 && !whole) continue
    for (const entry of g.entries) {
      if (batch.length === MAX_X509_BATCH) break
      if (ids.has(entry.id)) continue
      ids.add(entry.id)
      batch.push({ owner: g.rec, entry })
    }
  }
  for (const n of batch) n.owner.inflight.add(n.entry.id)
  return batch
}

function dueGroups(r: SvidRotator): DueGroup[] {
  const now = r.cfg.clock()
  const t = now.getTime()
  const groups: DueGroup[] = []
  for (const rec of r.records()) {
    if (rec.dropped || !rec.wantsX509 || !anythingDue(rec, t)) continue
    const entries: AuthorizedEntry[] = []
    const renewable: AuthorizedEntry[] = []
    let deadline = Number.POSITIVE_INFINITY
    for (const entry of rec.matched) {
      if (rec.inflight.has(entry.id)) continue
      const retry = rec.retries.get(entry.id)
      if (retry !== undefined && retry.retryAt > t) continue
      const held = rec.svids.get(entry.id)
      if (held === undefined || held.revision !== entry.revisionNumber) {
        entries.push(entry)
        deadline = t
      } else {
        renewable.push(entry)
      }
    }
    const held = renewable.map((e) => rec.svids.get(e.id)!)
    const renew = renewTogether(now, held)
    for (const [i, entry] of renewable.entries()) {
      if (!renew[i]) continue
      entries.push(entry)
      deadline = Math.min(deadline, held[i]!.notAfter.getTime())
    }
    if (entries.length > 0)
      groups.push({ rec, entries, deadline: rec.spare ? Number.POSITIVE_INFINITY : deadline })
  }
  return groups
}

/**
 * True when some SVID of the process is missing, outdated or due: a check that allocates
 * nothing, as the rounds run it over every held SVID each time a batch moves on.
 */
function anythingDue(rec: ProcessRecord, t: number): boolean {
  for (const entry of rec.matched) {
    if (rec.inflight.has(entry.id)) continue
    const retry = rec.retries.get(entry.id)
    if (retry !== undefined && retry.retryAt > t) continue
    const held = rec.svids.get(entry.id)
    if (held === undefined || held.revision !== entry.revisionNumber || t >= held.renewAt.getTime())
      return true
  }
  return false
}

function earliestRetry(r: SvidRotator): number | undefined {
  let at: number | undefined
  for (const rec of r.records()) {
    for (const retry of rec.retries.values()) if (at === undefined || retry.retryAt < at) at = retry.retryAt
  }
  return at
}
