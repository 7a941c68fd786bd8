// The audit trail on a real SQLite file: sealing and the chain check, group commit in call
// order, durable-append semantics, secrets kept out, and verify naming the first broken link
// after a separate process edits, deletes, inserts or cuts records.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import {
  AUDIT_GENESIS_HASH,
  AuditChainChecker,
  auditRecordHash,
  sealAuditRecords,
} from '../../../server/audit/audit-chain.js'
import { auditJson, isSecretFieldName } from '../../../server/audit/audit-details.js'
import { AuditTrail } from '../../../server/audit/audit-trail.js'
import type { DataStore } from '../../../server/datastore/datastore.js'
import { SqliteDataStore } from '../../../server/datastore/sqlite/sqlite-data-store.js'
import { type AuditTamper, tamperAuditDatabase } from '../../helpers/audit-tamper.js'

const root = mkdtempSync(join(tmpdir(), 'sigil-audit-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
let n = 0

interface Line {
  obj: Record<string, unknown>
  msg: string
}

async function open(t: Test) {
  const path = join(root, `case-${++n}`, 'datastore.sqlite3')
  const ds = await SqliteDataStore.open({ path })
  t.teardown(() => ds.close())
  const lines: Line[] = []
  const push = (obj: object, msg: string) => lines.push({ obj: obj as Record<string, unknown>, msg })
  const logger = { debug: push, info: push, warn: push, error: push }
  let ms = Date.parse('2030-01-01T00:00:00Z')
  const audit = new AuditTrail({ datastore: ds, logger, clock: () => new Date(ms++) })
  return { path, ds, audit, lines }
}

function content(i: number) {
  return {
    at: i,
    kind: 'k',
    decision: 'info' as const,
    spiffeId: '',
    taskId: '',
    serialOrJti: '',
    actor: '',
    details: `{"i":${i}}`,
  }
}

t.test('sealing chains from the genesis and every field is covered by the hash', async (t) => {
  const [a, b] = sealAuditRecords(undefined, [content(1), content(2)])
  t.equal(a!.seq, 1)
  t.equal(a!.prevHash, AUDIT_GENESIS_HASH)
  t.equal(b!.prevHash, a!.hash)
  t.match(a!.hash, /^[0-9a-f]{64}$/)
  const fields = [
    'at',
    'kind',
    'decision',
    'spiffeId',
    'taskId',
    'serialOrJti',
    'actor',
    'details',
    'seq',
    'prevHash',
  ]
  for (const f of fields) {
    const changed = {
      ...a!,
      [f]: typeof (a as unknown as Record<string, unknown>)[f] === 'number' ? 99 : 'x',
    }
    t.not(auditRecordHash(changed), a!.hash, `${f} is hashed`)
  }
  const checker = new AuditChainChecker()
  for (const r of [a!, b!]) checker.check(r)
  t.same(checker.problems, [])
  t.equal(checker.count, 2)
})

t.test('the checker names a deletion, a changed record and a broken link once each', async (t) => {
  const rs = sealAuditRecords(undefined, [1, 2, 3, 4, 5].map(content))
  const deleted = new AuditChainChecker()
  for (const r of [rs[0]!, rs[1]!, rs[3]!, rs[4]!]) deleted.check(r)
  t.same(
    deleted.problems.map((p) => [p.seq, p.kind]),
    [[3, 'missing']],
  )
  t.match(deleted.problems[0]!.message, /record 3 is missing/)
  const changed = new AuditChainChecker()
  for (const r of rs) changed.check(r.seq === 2 ? { ...r, details: '{"i":9}' } : r)
  t.same(
    changed.problems.map((p) => [p.seq, p.kind]),
    [[2, 'content']],
    'the next record still links to the stored hash: one problem, not a cascade',
  )
})

t.test('details are canonical and never hold secrets', async (t) => {
  t.equal(auditJson({ b: 1, a: { d: 2, c: 3 } }), '{"a":{"c":3,"d":2},"b":1}')
  t.equal(
    auditJson({
      token: 'eyJ',
      join_token: 'x',
      privateKey: 'k',
      csr: Buffer.from('x'),
      svid: 'x',
      on_behalf_of: 'e',
    }),
    '{}',
  )
  t.equal(auditJson({ x509_svid_ttl: 60, bytes: Buffer.from('k') }), '{"x509_svid_ttl":60}')
  t.ok(isSecretFieldName('parentTxnToken'))
  t.notOk(isSecretFieldName('serial_or_jti'))
  t.equal(JSON.parse(auditJson({ s: 'a'.repeat(2000) })).s.length, 513)
})

t.test('concurrent records are group-committed in call order and logged once each', async (t) => {
  const { ds, audit, lines } = await open(t)
  let appends = 0
  const append = ds.appendAuditRecords.bind(ds)
  ;(ds as { appendAuditRecords: DataStore['appendAuditRecords'] }).appendAuditRecords = (rs, head) => {
    appends++
    return append(rs, head)
  }
  const stored = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      audit.record({
        kind: 'x509_svid_issued',
        decision: 'allow',
        spiffeId: `spiffe://example.org/w${i}`,
        serialOrJti: i.toString(16),
        actor: { agentId: 'spiffe://example.org/agent' },
        details: { i, token: 'must-not-appear' },
      }),
    ),
  )
  t.same(
    stored.map((r) => r.seq),
    Array.from({ length: 200 }, (_, i) => i + 1),
    'seq follows the order of record() calls',
  )
  t.equal(appends, 1, 'one transaction for records made in one turn')
  const second = await audit.record({
    kind: 'admin_operation',
    decision: 'info',
    actor: { uid: 0, pid: 1, exe: '/x' },
  })
  t.equal(second.seq, 201)
  t.equal(second.prevHash, stored[199]!.hash)
  t.equal(second.actor, '{"exe":"/x","pid":1,"uid":0}')
  t.equal(appends, 2)
  const logged = lines.filter((l) => l.msg === 'audit')
  t.equal(logged.length, 201)
  t.notMatch(JSON.stringify(lines), /must-not-appear/)
  t.same(logged[0]!.obj.details, { i: 0 })
  t.equal(logged[0]!.obj.spiffe_id, 'spiffe://example.org/w0')
  const v = await audit.verify()
  t.same(
    { ok: v.ok, count: v.count, head: v.head },
    { ok: true, count: 201, head: { seq: 201, hash: second.hash } },
  )
})

t.test('a second trail on the same database continues the chain (head moved under it)', async (t) => {
  const { ds, audit } = await open(t)
  const other = new AuditTrail({ datastore: ds, logger: { debug() {}, info() {}, warn() {}, error() {} } })
  await audit.record({ kind: 'a', decision: 'info' })
  await other.record({ kind: 'b', decision: 'info' })
  const third = await audit.record({ kind: 'c', decision: 'info' })
  t.equal(third.seq, 3, 'the stale head was re-read and the batch re-sealed')
  t.ok((await audit.verify()).ok)
})

t.test('a failed append rejects every record of its batch, and the trail recovers', async (t) => {
  const { ds, audit } = await open(t)
  const append = ds.appendAuditRecords.bind(ds)
  let fail = true
  ;(ds as { appendAuditRecords: DataStore['appendAuditRecords'] }).appendAuditRecords = (rs, head) => {
    if (fail) return Promise.reject(Object.assign(new Error('disk full'), { code: 'ERR_DATASTORE_FULL' }))
    return append(rs, head)
  }
  const both = [
    audit.record({ kind: 'a', decision: 'allow' }),
    audit.record({ kind: 'b', decision: 'allow' }),
  ]
  for (const p of both) await t.rejects(p, { code: 'ERR_DATASTORE_FULL' })
  fail = false
  t.equal((await audit.record({ kind: 'c', decision: 'allow' })).seq, 1)
  t.throws(() => audit.record({ kind: 'x', decision: 'maybe' as 'allow' }), TypeError)
})

async function trailOf(t: Test, count: number) {
  const opened = await open(t)
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      opened.audit.record({ kind: 'k', decision: 'allow', details: { i } }),
    ),
  )
  const before = await opened.audit.verify()
  t.ok(before.ok, 'intact before the edit')
  return { ...opened, anchor: before.head! }
}

const cases: { tamper: AuditTamper; first: RegExp; seq: number }[] = [
  { tamper: { action: 'change', seq: 4 }, seq: 4, first: /record 4 was changed/ },
  { tamper: { action: 'delete', seq: 4 }, seq: 4, first: /record 4 is missing \(deleted\)/ },
  { tamper: { action: 'insert', seq: 4 }, seq: 5, first: /record 5 does not follow record 4/ },
]
for (const c of cases) {
  t.test(
    `verify names the first broken link after a separate process ${c.tamper.action}s a record`,
    async (t) => {
      const { path, audit } = await trailOf(t, 8)
      await tamperAuditDatabase(path, c.tamper)
      const v = await audit.verify()
      t.equal(v.ok, false)
      t.equal(v.problems[0]!.seq, c.seq)
      t.match(v.problems[0]!.message, c.first)
    },
  )
}

t.test(
  'a cut of the newest records or a full re-chain passes alone and fails against an anchor',
  async (t) => {
    for (const tamper of [
      { action: 'truncate', after: 5 },
      { action: 'rechain', seq: 3 },
    ] as const) {
      const { path, audit, anchor } = await trailOf(t, 8)
      await tamperAuditDatabase(path, tamper)
      t.equal((await audit.verify()).ok, true, `${tamper.action}: the chain alone cannot tell`)
      const v = await audit.verify(anchor)
      t.equal(v.ok, false, `${tamper.action}: the anchor tells`)
      t.match(
        v.problems[0]!.message,
        tamper.action === 'truncate' ? /anchor record 8 is gone/ : /no longer has the anchored hash/,
      )
    }
  },
)

t.test('the table refuses UPDATE and DELETE through SQL (append-only triggers)', async (t) => {
  const { path, audit } = await trailOf(t, 2)
  const Database = (await import('better-sqlite3')).default
  const db = new Database(path)
  t.teardown(() => db.close())
  t.throws(() => db.prepare("UPDATE audit_records SET kind = 'x' WHERE seq = 1").run(), /append-only/)
  t.throws(() => db.prepare('DELETE FROM audit_records').run(), /append-only/)
  t.ok((await audit.verify()).ok)
})
