// Conformance: the issuance record (batched, all-or-nothing, filters, newest first, pruning).
import type { Test } from 'tap'
import type { IssuedSvidRecord } from '../../../../server/datastore/datastore.js'
import { AGENT_A, AGENT_B, after, type MakeStore, openStore, TD } from './fixtures.js'

const BASE = new Date('2030-03-01T00:00:00.000Z')

/** `n` records, one per second from BASE, alternating SPIFFE ID, agent and kind. */
export function svidBatch(n: number, prefix = 's'): IssuedSvidRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const issuedAt = after(BASE, i)
    const jwt = i % 3 === 0
    return {
      kind: jwt ? 'jwt' : 'x509',
      serialOrJti: `${prefix}${i.toString(16).padStart(8, '0')}`,
      spiffeId: `${TD}/w${i % 2}`,
      entryId: i % 5 === 0 ? '' : `entry-${i % 7}`,
      agentId: i % 4 === 0 ? '' : i % 2 === 0 ? AGENT_A : AGENT_B,
      notBefore: after(issuedAt, -30),
      notAfter: after(issuedAt, 3600),
      audience: jwt ? ['https://api.example.org', 'spiffe://example.org/db'] : [],
      issuedAt,
    }
  })
}

export function issuedSvidTests(t: Test, makeStore: MakeStore): void {
  t.test('recordIssuedSvids stores a large batch; listIssuedSvids filters, newest first', async (t) => {
    const ds = await openStore(t, makeStore)
    const batch = svidBatch(3000)
    await ds.recordIssuedSvids(batch)
    const all = await ds.listIssuedSvids()
    t.equal(all.length, 3000)
    t.same(all[0], batch[2999], 'newest first, every field round-trips')
    t.same(all[2999], batch[0])
    t.ok(
      all.every((r, i) => i === 0 || all[i - 1]!.issuedAt >= r.issuedAt),
      'ordered by issuedAt descending',
    )
    t.same(all.find((r) => r.kind === 'jwt')?.audience, [
      'https://api.example.org',
      'spiffe://example.org/db',
    ])

    const w0 = await ds.listIssuedSvids({ spiffeId: `${TD}/w0` })
    t.equal(w0.length, 1500)
    t.ok(w0.every((r) => r.spiffeId === `${TD}/w0`))
    const byA = await ds.listIssuedSvids({ agentId: AGENT_A })
    t.equal(byA.length, batch.filter((r) => r.agentId === AGENT_A).length)
    t.ok(byA.length > 0 && byA.every((r) => r.agentId === AGENT_A))
    const since = after(BASE, 2000)
    t.equal((await ds.listIssuedSvids({ since })).length, 1000, 'since is inclusive')
    const top = await ds.listIssuedSvids({ limit: 10 })
    t.same(top, all.slice(0, 10), 'limit keeps the newest')
    const combined = await ds.listIssuedSvids({ spiffeId: `${TD}/w1`, agentId: AGENT_B, since, limit: 5 })
    t.same(
      combined,
      all
        .filter((r) => r.spiffeId === `${TD}/w1` && r.agentId === AGENT_B && r.issuedAt >= since)
        .slice(0, 5),
    )
    t.same(await ds.listIssuedSvids({ spiffeId: `${TD}/nobody` }), [])
    t.same(await ds.listIssuedSvids({ kind: 'x509', serialOrJti: batch[1]!.serialOrJti }), [batch[1]])
    t.same(
      await ds.listIssuedSvids({ kind: 'jwt', serialOrJti: batch[1]!.serialOrJti }),
      [],
      'kind must match',
    )
    t.equal((await ds.listIssuedSvids({ kind: 'jwt' })).length, 1000)
    await t.rejects(ds.listIssuedSvids({ limit: 0 }), TypeError)
  })

  t.test('a batch is all or nothing', async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.recordIssuedSvids([])
    const first = svidBatch(100, 'a')
    await ds.recordIssuedSvids(first)
    const repeatsInBatch = [...svidBatch(50, 'b'), svidBatch(1, 'b')[0]!]
    await t.rejects(ds.recordIssuedSvids(repeatsInBatch), { code: 'ERR_INVALID_ARGUMENT' })
    const repeatsStored = [...svidBatch(50, 'c'), first[99]!]
    await t.rejects(ds.recordIssuedSvids(repeatsStored), { code: 'ERR_INVALID_ARGUMENT' })
    t.equal((await ds.listIssuedSvids()).length, 100, 'neither refused batch left a record')
    const sameSerialOtherKind = { ...first[1]!, kind: first[1]!.kind === 'jwt' ? 'x509' : 'jwt' } as const
    await ds.recordIssuedSvids([sameSerialOtherKind])
    t.equal((await ds.listIssuedSvids()).length, 101, 'a serial and a jti may coincide')
    await t.rejects(ds.recordIssuedSvids([{ ...first[0]!, issuedAt: new Date(Number.NaN) }]), TypeError)
  })

  t.test('pruneIssuedSvids deletes records that expired before the cut', async (t) => {
    const ds = await openStore(t, makeStore)
    const batch = svidBatch(100)
    await ds.recordIssuedSvids(batch)
    const cut = batch[40]!.notAfter // records 0..39 expired before it
    t.equal(await ds.pruneIssuedSvids(cut), 40)
    const left = await ds.listIssuedSvids()
    t.equal(left.length, 60)
    t.ok(left.every((r) => r.notAfter >= cut))
    t.equal(await ds.pruneIssuedSvids(cut), 0)
  })
}
