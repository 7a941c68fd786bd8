/**
 * `npm run bench -- audit`: the audit trail's durable append rate (records/s) on a real SQLite
 * file, beside the SQLite durable-commit baseline measured in the same run on the same disk: one
 * row per transaction with `synchronous = FULL` (the WAL synced at every commit) — the rate any
 * one-record-per-commit durable log is bound by. Three audit rows: one writer awaiting each record
 * (no grouping possible: ≈ the baseline at best), and 16 and 64 concurrent writers (group commit:
 * one transaction and one WAL sync per batch). Each record is sealed (SHA-256), stored and written
 * as one JSON log line (to /dev/null), as in the server.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createLogger } from '../../common/logging/logger.js'
import { AuditTrail } from '../../server/audit/audit-trail.js'
import { openSqliteFile } from '../../server/datastore/sqlite/open-sqlite-file.js'
import { SqliteDataStore } from '../../server/datastore/sqlite/sqlite-data-store.js'
import type { Benchmark } from './benchmark.js'

const SECONDS = Number(process.env.SIGIL_BENCH_SECONDS ?? 3)

/** One row per durable transaction, for `seconds`: commits per second. */
function durableCommitBaseline(path: string, seconds: number): number {
  const db = openSqliteFile(path)
  try {
    db.pragma('synchronous = FULL')
    db.exec('CREATE TABLE log (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL) STRICT')
    const insert = db.prepare('INSERT INTO log (at, body) VALUES (?, ?)')
    const body = JSON.stringify({
      kind: 'x509_svid_issued',
      spiffe_id: 'spiffe://example.org/w',
      pad: 'x'.repeat(300),
    })
    const commit = db.transaction(() => insert.run(Date.now(), body))
    for (let i = 0; i < 50; i++) commit.immediate()
    const start = process.hrtime.bigint()
    const limit = BigInt(Math.round(seconds * 1e9))
    let n = 0
    for (;;) {
      for (let i = 0; i < 20; i++) commit.immediate()
      n += 20
      const elapsed = process.hrtime.bigint() - start
      if (elapsed >= limit) return (n * 1e9) / Number(elapsed)
    }
  } finally {
    db.close()
  }
}

interface AuditRun {
  readonly recordsPerS: number
  readonly transactions: number
  readonly records: number
}

/** `writers` loops each awaiting its own records, for `seconds`, on a fresh trail. */
async function auditRate(path: string, writers: number, seconds: number): Promise<AuditRun> {
  const ds = await SqliteDataStore.open({ path })
  let transactions = 0
  const append = ds.appendAuditRecords.bind(ds)
  ds.appendAuditRecords = (rs, head) => {
    transactions++
    return append(rs, head)
  }
  const logger = createLogger('bench', 'info', pino.destination({ dest: '/dev/null', sync: true }))
  const audit = new AuditTrail({ datastore: ds, logger })
  const event = (i: number) => ({
    kind: 'x509_svid_issued',
    decision: 'allow' as const,
    spiffeId: 'spiffe://example.org/bench/workload',
    serialOrJti: i.toString(16).padStart(32, '0'),
    actor: { agentId: 'spiffe://example.org/bench/agent' },
    details: {
      entry_id: '6f2d8c4e-0000-4000-8000-000000000000',
      entry: { parent_id: 'spiffe://example.org/bench/agent', selectors: ['unix:uid:1000'] },
      agent: { attestation_type: 'join_token', selectors: [] },
    },
  })
  try {
    for (let i = 0; i < 50; i++) await audit.record(event(i))
    transactions = 0
    let records = 0
    let stop = false
    const start = process.hrtime.bigint()
    const timer = setTimeout(() => {
      stop = true
    }, seconds * 1000)
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          await audit.record(event(w * 1e9 + i))
          records++
        }
      }),
    )
    clearTimeout(timer)
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9
    const verified = await audit.verify()
    if (!verified.ok)
      throw new Error(`the bench's own chain does not verify: ${verified.problems[0]?.message}`)
    return { recordsPerS: records / elapsed, transactions, records }
  } finally {
    await ds.close()
  }
}

export const benchmark: Benchmark = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-audit-'))
  try {
    // the baseline before and after the audit runs (the disk's rate drifts under other load); the mean is the reference
    const before = durableCommitBaseline(join(dir, 'baseline-1.sqlite3'), SECONDS)
    const runs = new Map<number, AuditRun>()
    for (const writers of [1, 16, 64]) {
      runs.set(writers, await auditRate(join(dir, `audit-${writers}.sqlite3`), writers, SECONDS))
    }
    const after = durableCommitBaseline(join(dir, 'baseline-2.sqlite3'), SECONDS)
    const baseline = (before + after) / 2
    const r = (n: number) => Math.round(n)
    const json: Record<string, unknown> = {
      sqlite_durable_commits_per_s: r(baseline),
      sqlite_durable_commits_before_after: [r(before), r(after)],
      disk: tmpdir(),
      load_avg_1m: Number(loadavg()[0]?.toFixed(2)),
    }
    const rows: [string, string][] = [
      [
        'SQLite durable commits (1 row each, synchronous=FULL): baseline, mean of before / after',
        `${r(baseline).toLocaleString('en-US')}/s (${r(before)} / ${r(after)})`,
      ],
    ]
    for (const [writers, run] of runs) {
      const perTx = run.records / Math.max(run.transactions, 1)
      json[`audit_${writers}_writer${writers === 1 ? '' : 's'}`] = {
        records_per_s: r(run.recordsPerS),
        records_per_commit: Math.round(perTx * 10) / 10,
        vs_baseline: Math.round((run.recordsPerS / baseline) * 100) / 100,
      }
      rows.push([
        `audit append, ${writers} concurrent writer${writers === 1 ? '' : 's'} (records per commit ${perTx.toFixed(1)})`,
        `${r(run.recordsPerS).toLocaleString('en-US')}/s = ${(run.recordsPerS / baseline).toFixed(2)}× baseline`,
      ])
    }
    return {
      json,
      rows,
      note: `durable: every record committed with the WAL synced before record() resolves; disk ${tmpdir()}, load avg ${loadavg()[0]?.toFixed(1)}`,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
