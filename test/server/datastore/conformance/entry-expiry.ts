// Conformance: entry expiry and caller-chosen entry IDs (issue 16 item 4, migration #8). An
// expired entry authorizes nothing (nor its children) before it is pruned; pruning deletes only
// expired entries; a caller-chosen ID is kept, a taken one is ERR_ENTRY_EXISTS, a malformed one
// ERR_ENTRY_INVALID.
import type { Test } from 'tap'
import { AGENT_A, entryInput, ids, idsOf, type MakeStore, openStore, SERVER_ID, sel, TD } from './fixtures.js'

export function entryExpiryTests(t: Test, makeStore: MakeStore): void {
  t.test(
    'an expired entry authorizes nothing, and pruneExpiredEntries deletes only expired ones',
    async (t) => {
      const ds = await openStore(t, makeStore)
      const now = Math.floor(Date.now() / 1000)
      const live = await ds.createEntry(entryInput({ spiffeId: `${TD}/live`, entryExpiry: now + 3600 }))
      const never = await ds.createEntry(entryInput({ spiffeId: `${TD}/never` }))
      const expired = await ds.createEntry(entryInput({ spiffeId: `${TD}/expired`, entryExpiry: now - 10 }))
      const child = await ds.createEntry(entryInput({ spiffeId: `${TD}/child`, parentId: `${TD}/expired` }))
      const alias = await ds.createEntry(
        entryInput({
          spiffeId: `${TD}/old-alias`,
          parentId: SERVER_ID,
          node: true,
          selectors: sel('x509pop:subject:cn:a'),
          entryExpiry: now - 10,
        }),
      )
      const underAlias = await ds.createEntry(
        entryInput({ spiffeId: `${TD}/under`, parentId: `${TD}/old-alias` }),
      )
      t.equal(live.entryExpiry, now + 3600)
      t.equal(never.entryExpiry, 0, 'no expiry: 0')
      t.same(
        ids(await ds.listAuthorizedEntries(AGENT_A, sel('x509pop:subject:cn:a'))),
        idsOf(live, never),
        'neither the expired entry, its child, the expired alias nor what hangs under it',
      )
      t.equal((await ds.listEntries()).length, 6, 'listed until pruned')
      const pruned = await ds.pruneExpiredEntries(new Date(now * 1000))
      t.same(ids(pruned).sort(), idsOf(expired, alias).sort(), 'the expired ones are pruned')
      t.same(ids(await ds.listEntries()).sort(), idsOf(live, never, child, underAlias).sort())
      t.same(await ds.pruneExpiredEntries(new Date(now * 1000)), [], 'nothing left to prune')
      const updated = await ds.updateEntry(live.id, { entryExpiry: 0 })
      t.equal(updated.entryExpiry, 0, 'an update clears the expiry')
      await t.rejects(ds.createEntry(entryInput({ spiffeId: `${TD}/neg`, entryExpiry: -1 })), {
        code: 'ERR_ENTRY_INVALID',
      })
    },
  )

  t.test('a caller-chosen entry ID is kept; a taken one is ERR_ENTRY_EXISTS', async (t) => {
    const ds = await openStore(t, makeStore)
    const e = await ds.createEntry({ ...entryInput({ spiffeId: `${TD}/chosen` }), id: 'my-entry.1' })
    t.equal(e.id, 'my-entry.1')
    t.equal((await ds.getEntry('my-entry.1'))?.spiffeId, `${TD}/chosen`)
    await t.rejects(ds.createEntry({ ...entryInput({ spiffeId: `${TD}/other` }), id: 'my-entry.1' }), {
      code: 'ERR_ENTRY_EXISTS',
    })
    for (const id of ['', 'with space', 'x'.repeat(256), 'slash/no']) {
      await t.rejects(ds.createEntry({ ...entryInput({ spiffeId: `${TD}/bad` }), id }), {
        code: 'ERR_ENTRY_INVALID',
      })
    }
  })
}
