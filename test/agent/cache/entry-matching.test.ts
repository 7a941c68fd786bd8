// Matching processes to entries through the per-state index: the same answer as checking
// every entry (all selectors present, sorted by ID, duplicate hints dropped), whatever order
// the selectors come in.
import t from 'tap'
import { indexEntries, matchEntries } from '../../../agent/cache/entry-matching.js'
import { parseSelector, selectorSet } from '../../../certs/selector/selector.js'
import { entry } from './fake-server.js'

const attested = (...s: string[]) => selectorSet(s.map(parseSelector))

t.test('an entry matches when all its selectors are attested, in any order', async (t) => {
  const entries = [
    entry({ id: 'c', path: '/c', selectors: ['unix:uid:1', 'unix:gid:2'] }),
    entry({ id: 'a', path: '/a', selectors: ['unix:gid:2'] }),
    entry({ id: 'b', path: '/b', selectors: ['unix:uid:1'] }),
    entry({ id: 'd', path: '/d', selectors: ['unix:uid:1', 'unix:gid:3'] }),
    entry({ id: 'e', path: '/e', selectors: [] }),
  ]
  const index = indexEntries(entries)
  const ids = (s: ReadonlySet<string>) => matchEntries(index, s).map((e) => e.id)
  t.same(ids(attested('unix:gid:2', 'unix:uid:1')), ['a', 'b', 'c'], 'sorted by ID')
  t.same(ids(attested('unix:gid:2')), ['a'], 'an entry needs every one of its selectors')
  t.same(ids(attested('unix:gid:3', 'unix:uid:1')), ['b', 'd'])
  t.same(ids(attested('unix:uid:9')), [], 'nothing matches')
  t.same(ids(new Set()), [], 'an entry without selectors matches nothing')
})

t.test('of entries sharing a hint, the oldest is kept', async (t) => {
  const old = new Date('2026-01-01T00:00:00Z')
  const entries = [
    entry({
      id: 'x',
      path: '/x',
      selectors: ['unix:uid:1'],
      hint: 'web',
      createdAt: new Date(old.getTime() + 1),
    }),
    entry({ id: 'y', path: '/y', selectors: ['unix:uid:1'], hint: 'web', createdAt: old }),
    entry({ id: 'z', path: '/z', selectors: ['unix:uid:1'] }),
  ]
  t.same(
    matchEntries(indexEntries(entries), attested('unix:uid:1')).map((e) => e.id),
    ['y', 'z'],
  )
})
