// Conformance: the authorization crawl (agent's children, node aliases, transitive, cycles).
import type { Test } from 'tap'
import type { DataStore, RegistrationEntry } from '../../../../server/datastore/datastore.js'
import {
  AGENT_A,
  AGENT_B,
  entryInput,
  ids,
  idsOf,
  type MakeStore,
  openStore,
  SERVER_ID,
  sel,
  TD,
} from './fixtures.js'

const A_SELECTORS = sel('x509pop:san:dns:abc', 'x509pop:subject:cn:a')
const B_SELECTORS = sel('x509pop:san:dns:def', 'x509pop:subject:cn:b')

async function add(
  ds: DataStore,
  spiffeId: string,
  parentId: string,
  extra = {},
): Promise<RegistrationEntry> {
  return ds.createEntry(entryInput({ spiffeId: `${TD}/${spiffeId}`, parentId, ...extra }))
}

export function authorizationTests(t: Test, makeStore: MakeStore): void {
  t.test('listAuthorizedEntries follows parents, node aliases and descendants', async (t) => {
    const ds = await openStore(t, makeStore)
    // node aliases: prod matches A (its selectors are a subset of A's), dev matches only B
    await add(ds, 'cluster/prod', SERVER_ID, { node: true, selectors: sel('x509pop:san:dns:abc') })
    await add(ds, 'cluster/dev', SERVER_ID, { node: true, selectors: B_SELECTORS })
    const w1 = await add(ds, 'w1', AGENT_A)
    const w2 = await add(ds, 'w2', `${TD}/cluster/prod`)
    const w3 = await add(ds, 'w3', `${TD}/w2`) // transitive, below an alias's child
    const w4 = await add(ds, 'w4', AGENT_B)
    const w5 = await add(ds, 'w5', `${TD}/cluster/dev`)
    // a cycle: c1 -> c2 -> c1 (c3 has c1's SPIFFE ID and is parented to c2), and a self-parented entry
    const c1 = await add(ds, 'c1', AGENT_A)
    const c2 = await add(ds, 'c2', `${TD}/c1`)
    const c3 = await add(ds, 'c1', `${TD}/c2`)
    const s1 = await add(ds, 'loop', AGENT_A)
    const s2 = await add(ds, 'loop', `${TD}/loop`, { selectors: sel('unix:uid:2') })
    // never returned: unrelated, and a node entry reached as a child (aliases match only by selectors)
    await add(ds, 'u1', `${TD}/nobody`)
    await add(ds, 'odd-alias', AGENT_A, { node: true, selectors: sel('x509pop:san:dns:zzz') })
    await add(ds, 'under-odd-alias', `${TD}/odd-alias`)

    const forA = await ds.listAuthorizedEntries(AGENT_A, A_SELECTORS)
    t.same(ids(forA), idsOf(w1, w2, w3, c1, c2, c3, s1, s2), 'agent A')
    t.equal(new Set(ids(forA)).size, forA.length, 'each entry once')
    t.ok(
      forA.every((e, i) => i === 0 || forA[i - 1]!.createdAt.getTime() <= e.createdAt.getTime()),
      'oldest first',
    )
    t.same(ids(await ds.listAuthorizedEntries(AGENT_B, B_SELECTORS)), idsOf(w4, w5), 'agent B')
    t.same(
      ids(await ds.listAuthorizedEntries(AGENT_A, [])),
      idsOf(w1, c1, c2, c3, s1, s2),
      'without node selectors, no alias matches',
    )
    t.same(
      ids(await ds.listAuthorizedEntries(AGENT_A, [...A_SELECTORS, ...sel('x509pop:extra:x')])),
      idsOf(w1, w2, w3, c1, c2, c3, s1, s2),
      'extra agent selectors still match the alias',
    )
    t.same(
      ids(await ds.listAuthorizedEntries(`${TD}/sigil/agent/unknown`, sel('x509pop:subject:cn:b'))),
      [],
      'a partial selector match is not a match',
    )
  })

  t.test('authorization follows updates and deletes', async (t) => {
    const ds = await openStore(t, makeStore)
    const alias = await add(ds, 'cluster', SERVER_ID, { node: true, selectors: sel('x509pop:san:dns:abc') })
    const w = await add(ds, 'w', `${TD}/cluster`)
    t.same(ids(await ds.listAuthorizedEntries(AGENT_A, A_SELECTORS)), idsOf(w))
    await ds.updateEntry(alias.id, { selectors: sel('x509pop:san:dns:other') })
    t.same(await ds.listAuthorizedEntries(AGENT_A, A_SELECTORS), [], 'alias no longer matches')
    await ds.updateEntry(w.id, { parentId: AGENT_A })
    t.same(ids(await ds.listAuthorizedEntries(AGENT_A, A_SELECTORS)), idsOf(w), 're-parented to the agent')
    await ds.deleteEntry(w.id)
    t.same(await ds.listAuthorizedEntries(AGENT_A, A_SELECTORS), [])
  })

  t.test('entriesVersion changes with every entry write and only then', async (t) => {
    const ds = await openStore(t, makeStore)
    const v0 = await ds.entriesVersion()
    t.equal(typeof v0, 'string')
    t.equal(await ds.entriesVersion(), v0, 'stable without writes')
    await ds.listAuthorizedEntries(AGENT_A, A_SELECTORS)
    t.equal(await ds.entriesVersion(), v0, 'reads change nothing')
    const e = await add(ds, 'versioned', AGENT_A)
    const v1 = await ds.entriesVersion()
    t.not(v1, v0, 'create')
    const v2 = await ds.updateEntry(e.id, { hint: 'changed' }).then(() => ds.entriesVersion())
    t.not(v2, v1, 'update')
    await t.rejects(add(ds, 'versioned', AGENT_A), { code: 'ERR_ENTRY_EXISTS' })
    await ds.deleteEntry(e.id)
    const v3 = await ds.entriesVersion()
    t.not(v3, v2, 'delete')
    t.not(v3, v0, 'never back to an earlier token')
  })
}
