// Conformance: several handles on one store (what a restart, or another server on the same
// database, sees): persistence across reopen, single use and entry versions across handles,
// and the injected clock.
import type { Test } from 'tap'
import type { DataStore } from '../../../../server/datastore/datastore.js'
import { AGENT_A, after, entryInput, sel, TD, tokenHash } from './fixtures.js'
import { svidBatch } from './issued-svids.js'

/** Opens another handle (a new connection) on one store; `clock` stamps createdAt/updatedAt. */
export type OpenHandle = (options?: { clock?: () => Date }) => Promise<DataStore>

/** A fresh, empty store location; each call of the result opens a handle on it. */
export type MakeLocation = () => Promise<OpenHandle>

async function handle(t: Test, open: OpenHandle, options?: { clock?: () => Date }): Promise<DataStore> {
  const ds = await open(options)
  t.teardown(() => ds.close())
  return ds
}

export function sharedStoreTests(t: Test, makeLocation: MakeLocation): void {
  t.test('data survives close and reopen', async (t) => {
    const open = await makeLocation()
    const now = new Date('2030-01-01T00:00:00Z')
    const used = tokenHash()
    const unused = tokenHash()
    const ds = await open()
    const entry = await ds.createEntry(
      entryInput({ selectors: sel('unix:uid:1', 'unix:group:a'), dnsNames: ['a.b'] }),
    )
    const updated = await ds.updateEntry(entry.id, { hint: 'v2' })
    const agent = await ds.createOrUpdateAttestedAgent(
      {
        spiffeId: AGENT_A,
        attestationType: 'x509pop',
        serialNumber: 'ab',
        expiresAt: after(now, 60),
        selectors: [],
      },
      now,
    )
    await ds.banAttestedAgent(AGENT_A)
    await ds.createJoinToken({ tokenHash: used, spiffeId: '', expiresAt: after(now, 600) })
    await ds.createJoinToken({ tokenHash: unused, spiffeId: `${TD}/alias`, expiresAt: after(now, 600) })
    await ds.consumeJoinToken(used, now)
    const bundle = await ds.setBundle('example.org', { spiffeBundleJson: '{"keys":[]}', sequenceNumber: 3 })
    await ds.recordIssuedSvids(svidBatch(10))
    const revoked = await ds.addRevocations(
      [{ kind: 'jwt_jti', value: 'j1', reason: 'leaked', expiresAt: after(now, 300) }],
      now,
    )
    await ds.close()

    const again = await handle(t, open)
    t.same(await again.getEntry(entry.id), updated)
    t.same(await again.getAttestedAgent(AGENT_A), { ...agent, banned: true, serialNumber: '' })
    await t.rejects(again.consumeJoinToken(used, now), { code: 'ERR_TOKEN_USED' }, 'tombstone persisted')
    t.same(await again.consumeJoinToken(unused, now), { spiffeId: `${TD}/alias` })
    t.same(await again.getBundle('example.org'), bundle)
    t.same((await again.listIssuedSvids()).length, 10)
    t.same(await again.listRevocations(), revoked, 'revocations survive a restart')
    t.equal(await again.revocationSequence(), 1)
    await again.integrityCheck()
  })

  t.test('two handles on one store see each other and share single use', async (t) => {
    const open = await makeLocation()
    const one = await handle(t, open)
    const two = await handle(t, open)
    const h = tokenHash()
    const now = new Date()
    await one.createJoinToken({ tokenHash: h, spiffeId: '', expiresAt: after(now, 60) })
    t.same(await two.consumeJoinToken(h, now), { spiffeId: '' })
    await t.rejects(one.consumeJoinToken(h, now), { code: 'ERR_TOKEN_USED' })
    const e = await two.createEntry(entryInput())
    t.same(await one.getEntry(e.id), e)
  })

  t.test('two handles racing on the same join tokens: exactly one use of each wins', async (t) => {
    const open = await makeLocation()
    const one = await handle(t, open)
    const two = await handle(t, open)
    const now = new Date()
    const hashes = Array.from({ length: 20 }, () => tokenHash())
    for (const h of hashes)
      await one.createJoinToken({ tokenHash: h, spiffeId: '', expiresAt: after(now, 60) })
    const results = await Promise.all(
      hashes.map((h) => Promise.allSettled([one.consumeJoinToken(h, now), two.consumeJoinToken(h, now)])),
    )
    for (const [i, pair] of results.entries()) {
      t.equal(pair.filter((r) => r.status === 'fulfilled').length, 1, `token ${i}: one winner`)
      t.match(
        pair.find((r) => r.status === 'rejected'),
        { reason: { code: 'ERR_TOKEN_USED' } },
      )
    }
  })

  t.test('two handles racing: one duplicate entry wins, concurrent updates each count', async (t) => {
    const open = await makeLocation()
    const one = await handle(t, open)
    const two = await handle(t, open)
    const input = entryInput({ spiffeId: `${TD}/raced` })
    const created = await Promise.allSettled([one.createEntry(input), two.createEntry(input)])
    t.equal(created.filter((r) => r.status === 'fulfilled').length, 1, 'one creation wins')
    t.match(
      created.find((r) => r.status === 'rejected'),
      { reason: { code: 'ERR_ENTRY_EXISTS' } },
    )
    const e = await one.createEntry(entryInput({ spiffeId: `${TD}/updated` }))
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).updateEntry(e.id, { hint: `h${i}` })),
    )
    t.equal((await two.getEntry(e.id))?.revisionNumber, 10, 'no update was lost')
  })

  t.test('two handles adding revocations get distinct, increasing sequence numbers', async (t) => {
    const open = await makeLocation()
    const one = await handle(t, open)
    const two = await handle(t, open)
    const now = new Date()
    const add = (ds: DataStore, i: number) =>
      ds.addRevocations([{ kind: 'jwt_jti', value: `j${i}`, reason: '', expiresAt: after(now, 60) }], now)
    const added = await Promise.all(Array.from({ length: 20 }, (_, i) => add(i % 2 === 0 ? one : two, i)))
    const sequences = added.map((r) => r[0]!.sequence).sort((a, b) => a - b)
    t.same(
      sequences,
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
    t.equal(await one.revocationSequence(), 20)
    t.same(
      (await two.listRevocations()).map((r) => r.sequence),
      sequences,
    )
  })

  t.test('entriesVersion sees entry writes made through another handle', async (t) => {
    const open = await makeLocation()
    const ds = await handle(t, open)
    await ds.createEntry(entryInput())
    const before = await ds.entriesVersion()
    const other = await handle(t, open)
    t.equal(await other.entriesVersion(), await other.entriesVersion())
    await other.createEntry(entryInput({ spiffeId: `${TD}/from-elsewhere` }))
    t.not(await ds.entriesVersion(), before, "another handle's commit changes the version")
  })

  t.test('an injected clock stamps createdAt', async (t) => {
    const fixed = new Date('2031-02-03T04:05:06.789Z')
    const ds = await handle(t, await makeLocation(), { clock: () => fixed })
    t.same((await ds.createEntry(entryInput())).createdAt, fixed)
    t.same(
      (await ds.setBundle('example.org', { spiffeBundleJson: '{}', sequenceNumber: 1 })).updatedAt,
      fixed,
    )
  })
}
