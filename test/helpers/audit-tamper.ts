/**
 * Edits a server's audit trail the way an intruder with write access to the database file
 * would: in a separate node process (better-sqlite3, no Sigil code), dropping the append-only
 * triggers first. `insert` forges a well-formed record — with an independent implementation of
 * the chain's hash (audit-chain.ts) — and renumbers the ones after it; `truncate` cuts the newest.
 */
import { spawn } from 'node:child_process'
import { NODE_COMMAND, nodeArgs, ROOT } from './server-process.js'

/** What to do to the trail. */
export type AuditTamper =
  | { readonly action: 'change'; readonly seq: number }
  | { readonly action: 'delete'; readonly seq: number }
  | { readonly action: 'insert'; readonly seq: number }
  | { readonly action: 'truncate'; readonly after: number }
  | { readonly action: 'rechain'; readonly seq: number }

// Runs in the child: CommonJS, so require() resolves better-sqlite3 from the repository.
const SCRIPT = String.raw`
const Database = require('better-sqlite3')
const { createHash } = require('node:crypto')
const [path, action, n] = process.argv.slice(1)
const seq = Number(n)
const db = new Database(path, { fileMustExist: true, timeout: 10000 })
const hashOf = (r) => createHash('sha256').update(JSON.stringify(['sigil-audit-v1', r.seq, r.at, r.kind,
  r.decision, r.spiffe_id, r.task_id, r.serial_or_jti, r.actor, r.details, r.prev_hash])).digest('hex')
db.exec('DROP TRIGGER IF EXISTS audit_records_no_update; DROP TRIGGER IF EXISTS audit_records_no_delete')
const row = (s) => db.prepare('SELECT * FROM audit_records WHERE seq = ?').get(s)
const insert = db.prepare('INSERT INTO audit_records (seq, at, kind, decision, spiffe_id, task_id, serial_or_jti, actor, details, prev_hash, hash) VALUES (@seq, @at, @kind, @decision, @spiffe_id, @task_id, @serial_or_jti, @actor, @details, @prev_hash, @hash)')
db.transaction(() => {
  if (action === 'change') {
    if (db.prepare("UPDATE audit_records SET details = '{\"edited\":true}', decision = 'allow' WHERE seq = ?").run(seq).changes !== 1) throw new Error('no record ' + seq)
  } else if (action === 'delete') {
    if (db.prepare('DELETE FROM audit_records WHERE seq = ?').run(seq).changes !== 1) throw new Error('no record ' + seq)
  } else if (action === 'truncate') {
    db.prepare('DELETE FROM audit_records WHERE seq > ?').run(seq)
  } else if (action === 'insert') {
    const before = row(seq - 1)
    db.prepare('UPDATE audit_records SET seq = seq + 1000000000 WHERE seq >= ?').run(seq)
    db.prepare('UPDATE audit_records SET seq = seq - 999999999 WHERE seq >= 1000000000').run()
    const forged = { seq, at: Date.now(), kind: 'x509_svid_issued', decision: 'allow', spiffe_id: 'spiffe://example.org/forged',
      task_id: '', serial_or_jti: 'deadbeef', actor: '', details: '{}', prev_hash: before ? before.hash : '0'.repeat(64) }
    insert.run({ ...forged, hash: hashOf(forged) })
  } else if (action === 'rechain') {
    // change record seq, then recompute every hash from there on: only an anchor catches this
    db.prepare("UPDATE audit_records SET details = '{\"rechained\":true}' WHERE seq = ?").run(seq)
    let prev = row(seq - 1)
    for (const r of db.prepare('SELECT * FROM audit_records WHERE seq >= ? ORDER BY seq').all(seq)) {
      const fixed = { ...r, prev_hash: prev ? prev.hash : '0'.repeat(64) }
      fixed.hash = hashOf(fixed)
      db.prepare('UPDATE audit_records SET prev_hash = ?, hash = ? WHERE seq = ?').run(fixed.prev_hash, fixed.hash, r.seq)
      prev = fixed
    }
  } else throw new Error('unknown action ' + action)
})()
db.close()
`

/**
 * Applies `tamper` to the SQLite file at `dbPath` from a child node process; rejects with its
 * stderr when it fails.
 *
 * @example
 * await tamperAuditDatabase(join(dataDir, 'datastore.sqlite3'), { action: 'change', seq: 3 })
 */
export function tamperAuditDatabase(dbPath: string, tamper: AuditTamper): Promise<void> {
  const n = tamper.action === 'truncate' ? tamper.after : tamper.seq
  return new Promise((resolve, reject) => {
    const child = spawn(NODE_COMMAND, nodeArgs('-e', SCRIPT, dbPath, tamper.action, String(n)), {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`tamper ${tamper.action} failed (${code}): ${stderr}`)),
    )
  })
}
