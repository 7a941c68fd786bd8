// Conformance: registration entries (create, duplicates, filters, update, delete).
import type { Test } from 'tap'
import type { EntryFilter, RegistrationEntryInput } from '../../../../server/datastore/datastore.js'
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function entryTests(t: Test, makeStore: MakeStore): void {
  t.test('createEntry stores a normalized entry with a generated id', async (t) => {
    const ds = await openStore(t, makeStore)
    const before = Date.now()
    const e = await ds.createEntry(
      entryInput({
        spiffeId: `${TD}/web`,
        selectors: sel('unix:uid:1000', 'proc:cgroup:/prod', 'unix:uid:1000'),
        x509SvidTtl: 600,
        jwtSvidTtl: 60,
        dnsNames: ['web.example.org', 'web.example.org', 'api.example.org'],
        hint: 'frontend',
        admin: true,
        federatesWith: ['other.org', 'other.org'],
      }),
    )
    t.match(e.id, UUID)
    t.equal(e.revisionNumber, 0)
    t.ok(e.createdAt instanceof Date && Math.abs(e.createdAt.getTime() - before) < 60_000, 'createdAt is now')
    t.same(e.selectors, sel('proc:cgroup:/prod', 'unix:uid:1000'), 'selectors sorted and de-duplicated')
    t.same(e.dnsNames, ['web.example.org', 'api.example.org'], 'DNS names keep order, lose duplicates')
    t.same(e.federatesWith, ['other.org'])
    t.same(await ds.getEntry(e.id), e, 'getEntry returns what createEntry returned')
    const other = await ds.createEntry(entryInput({ spiffeId: `${TD}/other` }))
    t.not(other.id, e.id, 'ids are unique')
    t.equal(await ds.getEntry('no-such-id'), undefined)

    const got = (await ds.getEntry(e.id))!
    got.selectors.push(...sel('unix:uid:0'))
    got.dnsNames.length = 0
    t.same(await ds.getEntry(e.id), e, 'returned records are copies')
  })

  t.test('createEntry refuses invalid entries and writes nothing', async (t) => {
    const ds = await openStore(t, makeStore)
    const bad: [string, Partial<RegistrationEntryInput>][] = [
      ['no selectors', { selectors: [] }],
      ['negative TTL', { x509SvidTtl: -1 }],
      ['fractional TTL', { jwtSvidTtl: 1.5 }],
      ['empty SPIFFE ID', { spiffeId: '' }],
      ['empty parent ID', { parentId: '' }],
      ['empty selector value', { selectors: [{ type: 'unix', value: '' }] }],
    ]
    for (const [name, over] of bad) {
      await t.rejects(ds.createEntry(entryInput(over)), { code: 'ERR_ENTRY_INVALID' }, name)
    }
    // a selector that could never match is refused by every backend, naming the rule
    for (const text of ['foo:bar:baz', 'unix:uid:-1', 'unix:uid:1 ', 'unix:path:rel/path', 'unix:uid:0:0']) {
      await t.rejects(
        ds.createEntry(entryInput({ selectors: sel(text) })),
        { code: 'ERR_SELECTOR_INVALID' },
        text,
      )
    }
    const ok = await ds.createEntry(entryInput({ spiffeId: `${TD}/valid` }))
    await t.rejects(ds.updateEntry(ok.id, { selectors: sel('unix:uid:abc') }), {
      code: 'ERR_SELECTOR_INVALID',
    })
    await ds.deleteEntry(ok.id)
    await t.rejects(
      ds.createEntry(entryInput({ admin: 'yes' as unknown as boolean })),
      TypeError,
      'wrong type',
    )
    await t.rejects(ds.createEntry(entryInput({ selectors: ['unix:uid:1'] as unknown as [] })), TypeError)
    t.equal(await ds.countEntries(), 0)
  })

  t.test('duplicate = same SPIFFE ID, parent ID and selector set', async (t) => {
    const ds = await openStore(t, makeStore)
    const base = { spiffeId: `${TD}/db`, parentId: AGENT_A, selectors: sel('unix:uid:1', 'unix:gid:2') }
    await ds.createEntry(entryInput(base))
    await t.rejects(
      ds.createEntry(
        entryInput({ ...base, selectors: sel('unix:gid:2', 'unix:uid:1', 'unix:uid:1'), hint: 'x' }),
      ),
      { code: 'ERR_ENTRY_EXISTS' },
      'selector order and repeats do not matter, nor other fields',
    )
    await ds.createEntry(entryInput({ ...base, parentId: AGENT_B }))
    await ds.createEntry(entryInput({ ...base, spiffeId: `${TD}/db2` }))
    await ds.createEntry(entryInput({ ...base, selectors: sel('unix:uid:1') }))
    await ds.createEntry(entryInput({ ...base, selectors: sel('unix:uid:1', 'unix:gid:2', 'unix:gid:3') }))
    t.equal(await ds.countEntries(), 5, 'the refused duplicate left nothing behind')
  })

  t.test('listEntries and countEntries filter on every field', async (t) => {
    const ds = await openStore(t, makeStore)
    const e1 = await ds.createEntry(
      entryInput({ spiffeId: `${TD}/web`, selectors: sel('unix:uid:1', 'unix:group:a') }),
    )
    const e2 = await ds.createEntry(entryInput({ spiffeId: `${TD}/db`, selectors: sel('unix:uid:2') }))
    const e3 = await ds.createEntry(
      entryInput({ spiffeId: `${TD}/web`, parentId: AGENT_B, selectors: sel('unix:uid:1') }),
    )
    const e4 = await ds.createEntry(
      entryInput({
        spiffeId: `${TD}/cluster`,
        parentId: SERVER_ID,
        node: true,
        selectors: sel('x509pop:subject:cn:n1'),
      }),
    )
    const cases: [string, EntryFilter | undefined, string[]][] = [
      ['no filter', undefined, idsOf(e1, e2, e3, e4)],
      ['empty filter', {}, idsOf(e1, e2, e3, e4)],
      ['spiffeId', { spiffeId: `${TD}/web` }, idsOf(e1, e3)],
      ['parentId', { parentId: AGENT_A }, idsOf(e1, e2)],
      ['spiffeId + parentId', { spiffeId: `${TD}/web`, parentId: AGENT_B }, idsOf(e3)],
      ['node aliases', { node: true }, idsOf(e4)],
      ['not node aliases', { node: false }, idsOf(e1, e2, e3)],
      ['unknown spiffeId', { spiffeId: `${TD}/nope` }, []],
      ['exact', { selectors: { match: 'exact', selectors: sel('unix:uid:1') } }, idsOf(e3)],
      [
        'exact, any order',
        { selectors: { match: 'exact', selectors: sel('unix:uid:1', 'unix:group:a') } },
        idsOf(e1),
      ],
      [
        'subset (workload matching)',
        { selectors: { match: 'subset', selectors: sel('unix:uid:1', 'unix:group:a', 'unix:uid:9') } },
        idsOf(e1, e3),
      ],
      ['subset, narrower', { selectors: { match: 'subset', selectors: sel('unix:uid:1') } }, idsOf(e3)],
      ['subset of nothing', { selectors: { match: 'subset', selectors: [] } }, []],
      ['superset', { selectors: { match: 'superset', selectors: sel('unix:uid:1') } }, idsOf(e1, e3)],
      [
        'superset of two',
        { selectors: { match: 'superset', selectors: sel('unix:group:a', 'unix:uid:1') } },
        idsOf(e1),
      ],
      ['superset of nothing', { selectors: { match: 'superset', selectors: [] } }, idsOf(e1, e2, e3, e4)],
      ['any', { selectors: { match: 'any', selectors: sel('unix:uid:2', 'unix:group:a') } }, idsOf(e1, e2)],
      ['any of nothing', { selectors: { match: 'any', selectors: [] } }, []],
      [
        'combined',
        {
          parentId: AGENT_A,
          node: false,
          selectors: { match: 'any', selectors: sel('unix:uid:1', 'unix:uid:2') },
        },
        idsOf(e1, e2),
      ],
    ]
    for (const [name, filter, want] of cases) {
      const got = await ds.listEntries(filter)
      t.same(ids(got), want, `list: ${name}`)
      t.equal(await ds.countEntries(filter), want.length, `count: ${name}`)
    }
    const all = await ds.listEntries()
    t.ok(
      all.every((e, i) => i === 0 || all[i - 1]!.createdAt.getTime() <= e.createdAt.getTime()),
      'oldest first',
    )
    await t.rejects(
      ds.listEntries({ selectors: { match: 'some' as 'any', selectors: [] } }),
      TypeError,
      'unknown match mode',
    )
  })

  t.test('updateEntry applies a patch and bumps the revision', async (t) => {
    const ds = await openStore(t, makeStore)
    const e1 = await ds.createEntry(
      entryInput({ selectors: sel('unix:uid:1', 'unix:group:a'), hint: 'keep' }),
    )
    const u1 = await ds.updateEntry(e1.id, { selectors: sel('unix:uid:5'), dnsNames: ['x.example.org'] })
    t.equal(u1.revisionNumber, 1)
    t.equal(u1.id, e1.id)
    t.same(u1.createdAt, e1.createdAt)
    t.same(u1.selectors, sel('unix:uid:5'))
    t.same(u1.dnsNames, ['x.example.org'])
    t.equal(u1.hint, 'keep', 'fields absent from the patch keep their value')
    t.same(await ds.getEntry(e1.id), u1)
    t.same(
      await ds.listEntries({ selectors: { match: 'any', selectors: sel('unix:group:a') } }),
      [],
      'old selectors gone',
    )
    t.same(ids(await ds.listEntries({ selectors: { match: 'exact', selectors: sel('unix:uid:5') } })), [
      e1.id,
    ])
    const u2 = await ds.updateEntry(e1.id, { hint: undefined, admin: true })
    t.equal(u2.revisionNumber, 2)
    t.equal(u2.hint, 'keep', 'an undefined patch field changes nothing')

    await t.rejects(ds.updateEntry('no-such-id', { hint: 'x' }), { code: 'ERR_NOT_FOUND' })
    const e2 = await ds.createEntry(entryInput({ selectors: sel('unix:uid:7') }))
    await t.rejects(ds.updateEntry(e2.id, { selectors: sel('unix:uid:5') }), { code: 'ERR_ENTRY_EXISTS' })
    await t.rejects(ds.updateEntry(e2.id, { selectors: [] }), { code: 'ERR_ENTRY_INVALID' })
    await t.rejects(ds.updateEntry(e2.id, { x509SvidTtl: -5 }), { code: 'ERR_ENTRY_INVALID' })
    t.same(await ds.getEntry(e2.id), e2, 'a refused update changes nothing')
    t.same(ids(await ds.listEntries({ selectors: { match: 'exact', selectors: sel('unix:uid:7') } })), [
      e2.id,
    ])
  })

  t.test('deleteEntry returns the deleted entry and takes its selectors along', async (t) => {
    const ds = await openStore(t, makeStore)
    const e = await ds.createEntry(entryInput({ selectors: sel('unix:uid:1', 'unix:gid:1') }))
    const keep = await ds.createEntry(entryInput({ selectors: sel('unix:uid:2') }))
    t.same(await ds.deleteEntry(e.id), e)
    t.equal(await ds.getEntry(e.id), undefined)
    await t.rejects(ds.deleteEntry(e.id), { code: 'ERR_NOT_FOUND' })
    t.same(
      await ds.listEntries({ selectors: { match: 'any', selectors: sel('unix:uid:1', 'unix:gid:1') } }),
      [],
    )
    t.same(ids(await ds.listEntries()), [keep.id])
    const again = await ds.createEntry(entryInput({ selectors: sel('unix:uid:1', 'unix:gid:1') }))
    t.not(again.id, e.id, 'the same entry can be created again, with a new id')
  })

  t.test('listEntriesByParentIds lists one level of children', async (t) => {
    const ds = await openStore(t, makeStore)
    const a = await ds.createEntry(entryInput({ spiffeId: `${TD}/a`, parentId: AGENT_A }))
    const b = await ds.createEntry(entryInput({ spiffeId: `${TD}/b`, parentId: AGENT_B }))
    await ds.createEntry(entryInput({ spiffeId: `${TD}/c`, parentId: `${TD}/a` }))
    t.same(ids(await ds.listEntriesByParentIds([AGENT_A, AGENT_B])), idsOf(a, b))
    t.same(ids(await ds.listEntriesByParentIds([AGENT_B, AGENT_B])), idsOf(b))
    t.same(await ds.listEntriesByParentIds([]), [])
    t.same(await ds.listEntriesByParentIds([`${TD}/nobody`]), [])
  })
}
