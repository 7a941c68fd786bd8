// Conformance: the audit trail section (compare-and-append, head, filters, paged reads).
import type { Test } from 'tap'
import { sealAuditRecords } from '../../../../server/audit/audit-chain.js'
import type { AuditRecord } from '../../../../server/datastore/datastore.js'
import { type MakeStore, openStore } from './fixtures.js'

function content(i: number, over: Partial<AuditRecord> = {}) {
  return {
    at: 1_900_000_000_000 + i,
    kind: i % 2 === 0 ? 'x509_svid_issued' : 'admin_operation',
    decision: (i % 3 === 0 ? 'deny' : 'allow') as AuditRecord['decision'],
    spiffeId: `spiffe://example.org/w${i % 2}`,
    taskId: i === 4 ? 'task-4' : '',
    serialOrJti: `0a${i}`,
    actor: '',
    details: `{"i":${i}}`,
    ...over,
  }
}

export function auditTests(t: Test, makeStore: MakeStore): void {
  t.test('appendAuditRecords is compare-and-append on the chain head', async (t) => {
    const ds = await openStore(t, makeStore)
    t.equal(await ds.auditHead(), undefined, 'an empty trail has no head')
    const first = sealAuditRecords(undefined, [content(1), content(2)])
    t.equal(await ds.appendAuditRecords(first, undefined), true)
    const head = { seq: 2, hash: first[1]!.hash }
    t.same(await ds.auditHead(), head)
    // a writer still sealing against the empty chain loses and stores nothing
    t.equal(await ds.appendAuditRecords(sealAuditRecords(undefined, [content(9)]), undefined), false)
    t.equal((await ds.listAuditRecords()).length, 2)
    const next = sealAuditRecords(head, [content(3), content(4), content(5), content(6)])
    t.equal(await ds.appendAuditRecords(next, head), true)
    t.same(await ds.readAuditRecords(0, 100), [...first, ...next], 'stored exactly as given, in chain order')
    t.same(
      (await ds.readAuditRecords(2, 2)).map((r) => r.seq),
      [3, 4],
      'paged',
    )
    await t.rejects(
      ds.appendAuditRecords(sealAuditRecords(undefined, [content(7)]), { seq: 6, hash: next[3]!.hash }),
      TypeError,
      'numbering must continue from the expected head',
    )
  })

  t.test('listAuditRecords filters (AND) and keeps the newest `limit`', async (t) => {
    const ds = await openStore(t, makeStore)
    const records = sealAuditRecords(
      undefined,
      [1, 2, 3, 4, 5, 6].map((i) => content(i)),
    )
    await ds.appendAuditRecords(records, undefined)
    const seqs = async (f: Parameters<typeof ds.listAuditRecords>[0]) =>
      (await ds.listAuditRecords(f)).map((r) => r.seq)
    t.same(await seqs({ spiffeId: 'spiffe://example.org/w0' }), [2, 4, 6])
    t.same(await seqs({ decision: 'deny' }), [3, 6])
    t.same(await seqs({ taskId: 'task-4' }), [4])
    t.same(await seqs({ serialOrJti: '0a5' }), [5])
    t.same(await seqs({ since: 1_900_000_000_004 }), [4, 5, 6])
    t.same(await seqs({ kindPrefix: 'admin_' }), [1, 3, 5])
    t.same(await seqs({ spiffeId: 'spiffe://example.org/w0', decision: 'deny' }), [6])
    t.same(await seqs({ limit: 2 }), [5, 6])
  })
}
