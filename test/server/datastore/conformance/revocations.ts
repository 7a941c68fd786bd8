// Conformance: revocations (sequence numbers, idempotent re-revocation, filters, pruning).
import type { Test } from 'tap'
import type { RevocationInput } from '../../../../server/datastore/datastore.js'
import { after, type MakeStore, openStore } from './fixtures.js'

const NOW = new Date('2030-04-01T00:00:00.000Z')

function rev(over: Partial<RevocationInput> = {}): RevocationInput {
  return { kind: 'x509_serial', value: 'abc123', reason: 'key leaked', expiresAt: after(NOW, 3600), ...over }
}

export function revocationTests(t: Test, makeStore: MakeStore): void {
  t.test('addRevocations numbers each revocation; listRevocations filters by kind and since', async (t) => {
    const ds = await openStore(t, makeStore)
    t.equal(await ds.revocationSequence(), 0, 'no revocation yet')
    t.same(await ds.addRevocations([], NOW), [], 'an empty batch is a no-op')
    const added = await ds.addRevocations(
      [rev(), rev({ kind: 'jwt_jti', value: 'j-1', reason: '' }), rev({ kind: 'txn', value: 'task-1' })],
      NOW,
    )
    t.same(
      added.map((r) => [r.sequence, r.kind, r.value]),
      [
        [1, 'x509_serial', 'abc123'],
        [2, 'jwt_jti', 'j-1'],
        [3, 'txn', 'task-1'],
      ],
    )
    t.same(added[0], { ...rev(), sequence: 1, revokedAt: NOW }, 'every field round-trips')
    t.equal(await ds.revocationSequence(), 3)
    t.same(await ds.listRevocations(), added, 'ascending sequence')
    t.same(await ds.listRevocations({ since: 1 }), added.slice(1), 'since is exclusive')
    t.same(await ds.listRevocations({ kind: 'jwt_jti' }), [added[1]])
    t.same(await ds.listRevocations({ since: 3 }), [])
  })

  t.test('revoking again is harmless; a later expiry replaces the row with a new sequence', async (t) => {
    const ds = await openStore(t, makeStore)
    const [first] = await ds.addRevocations([rev()], NOW)
    const [again] = await ds.addRevocations(
      [rev({ reason: 'twice', expiresAt: after(NOW, 60) })],
      after(NOW, 5),
    )
    t.same(again, first, 'same or earlier expiry: the stored record comes back unchanged')
    t.equal(await ds.revocationSequence(), 1)
    const [longer] = await ds.addRevocations(
      [rev({ reason: 'longer', expiresAt: after(NOW, 7200) })],
      after(NOW, 9),
    )
    t.equal(longer?.sequence, 2, 'a later expiry gets a new sequence number')
    t.same(longer?.revokedAt, NOW, 'revokedAt keeps the first revocation time')
    t.same(longer?.expiresAt, after(NOW, 7200))
    t.equal((await ds.listRevocations()).length, 1, 'still one row for the credential')
  })

  t.test('pruneRevocations drops what has expired; sequence numbers are never reused', async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.addRevocations(
      [rev({ value: 'a', expiresAt: after(NOW, 10) }), rev({ value: 'b', expiresAt: after(NOW, 100) })],
      NOW,
    )
    t.equal(await ds.pruneRevocations(after(NOW, 10)), 1, 'expiresAt <= now is pruned')
    t.same(
      (await ds.listRevocations()).map((r) => r.value),
      ['b'],
    )
    await ds.pruneRevocations(after(NOW, 1000))
    t.equal(await ds.revocationSequence(), 2, 'pruning keeps the sequence')
    const [c] = await ds.addRevocations([rev({ value: 'c' })], NOW)
    t.equal(c?.sequence, 3, 'the next number follows the highest ever given')
  })

  t.test('bad revocation input is a TypeError and stores nothing', async (t) => {
    const ds = await openStore(t, makeStore)
    await t.rejects(ds.addRevocations([rev(), rev({ value: '' })], NOW), TypeError)
    await t.rejects(
      ds.addRevocations([rev({ kind: 'password' as unknown as RevocationInput['kind'] })], NOW),
      TypeError,
    )
    await t.rejects(ds.addRevocations([rev({ expiresAt: new Date(Number.NaN) })], NOW), TypeError)
    await t.rejects(ds.listRevocations({ since: -1 }), TypeError)
    t.same(await ds.listRevocations(), [], 'nothing was stored')
  })
}
