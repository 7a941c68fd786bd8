// Conformance: updateBundle, the read-modify-write of a shared bundle — what merge sees, what it
// may leave alone, and no lost update when two handles (two servers on one database) merge at once.
import type { Test } from 'tap'
import type { BundleInput, BundleRecord, DataStore } from '../../../../server/datastore/datastore.js'
import type { MakeLocation, OpenHandle } from './shared-store.js'

async function handle(t: Test, open: OpenHandle): Promise<DataStore> {
  const ds = await open()
  t.teardown(async () => {
    await ds.integrityCheck()
    await ds.close()
  })
  return ds
}

/** The merge a server runs to publish one authority: append `key` unless present, bump the sequence. */
function addKey(key: string): (stored: BundleRecord | undefined) => BundleInput | undefined {
  return (stored) => {
    const keys: string[] = stored ? (JSON.parse(stored.spiffeBundleJson) as { keys: string[] }).keys : []
    if (keys.includes(key)) return undefined
    return {
      spiffeBundleJson: JSON.stringify({ keys: [...keys, key] }),
      sequenceNumber: (stored?.sequenceNumber ?? 0) + 1,
    }
  }
}

export function bundleMergeTests(t: Test, makeLocation: MakeLocation): void {
  t.test('updateBundle: merge sees the stored bundle; undefined leaves it', async (t) => {
    const ds = await handle(t, await makeLocation())
    const seen: (BundleRecord | undefined)[] = []
    t.equal(
      await ds.updateBundle('example.org', (stored) => {
        seen.push(stored)
        return undefined
      }),
      undefined,
      'nothing stored, nothing created',
    )
    t.equal(await ds.getBundle('example.org'), undefined)
    const first = await ds.updateBundle('example.org', addKey('a'))
    t.match(first, { trustDomain: 'example.org', spiffeBundleJson: '{"keys":["a"]}', sequenceNumber: 1 })
    t.ok(first?.updatedAt instanceof Date)
    t.same(await ds.getBundle('example.org'), first, 'what it resolves is what is stored')
    const second = await ds.updateBundle('example.org', (stored) => {
      seen.push(stored)
      return addKey('b')(stored)
    })
    t.same(seen, [undefined, first], 'merge got undefined, then the stored record')
    t.match(second, { spiffeBundleJson: '{"keys":["a","b"]}', sequenceNumber: 2 })
    t.same(
      await ds.updateBundle('example.org', addKey('b')),
      second,
      'undefined: the stored bundle comes back',
    )
    t.same(await ds.getBundle('example.org'), second, 'left as it was')
    t.equal(await ds.getBundle('other.org'), undefined, 'other trust domains untouched')
  })

  t.test('updateBundle: a failing or malformed merge writes nothing', async (t) => {
    const ds = await handle(t, await makeLocation())
    const stored = await ds.setBundle('example.org', { spiffeBundleJson: '{"keys":[]}', sequenceNumber: 4 })
    await t.rejects(
      ds.updateBundle('example.org', () => {
        throw new Error('merge failed')
      }),
      { message: 'merge failed' },
      "merge's own error comes back",
    )
    await t.rejects(
      ds.updateBundle('example.org', () => ({ spiffeBundleJson: '{}', sequenceNumber: -1 })),
      TypeError,
      'a returned bundle is checked like setBundle',
    )
    await t.rejects(
      ds.updateBundle(
        'example.org',
        () => ({ spiffeBundleJson: 7, sequenceNumber: 5 }) as unknown as BundleInput,
      ),
      TypeError,
    )
    await t.rejects(ds.updateBundle('', addKey('a')), TypeError, 'empty trust domain')
    await t.rejects(ds.updateBundle('example.org', 'not a function' as unknown as () => undefined), TypeError)
    t.same(await ds.getBundle('example.org'), stored, 'nothing written')
    t.match(await ds.updateBundle('example.org', addKey('k')), { sequenceNumber: 5 }, 'still usable')
  })

  t.test('updateBundle: two handles merging 50 times each at once lose no key', async (t) => {
    const open = await makeLocation()
    const one = await handle(t, open)
    const two = await handle(t, open)
    const n = 50
    const start = process.hrtime.bigint()
    await Promise.all(
      Array.from({ length: n }, (_, i) => [
        one.updateBundle('example.org', addKey(`one-${i}`)),
        two.updateBundle('example.org', addKey(`two-${i}`)),
      ]).flat(),
    )
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    t.comment(`${2 * n} concurrent updateBundle calls from two handles took ${ms.toFixed(0)} ms`)
    const stored = await two.getBundle('example.org')
    const keys = (JSON.parse(stored?.spiffeBundleJson ?? '{"keys":[]}') as { keys: string[] }).keys
    t.equal(keys.length, 2 * n, 'every merge landed')
    t.same(
      [...keys].sort(),
      Array.from({ length: n }, (_, i) => [`one-${i}`, `two-${i}`])
        .flat()
        .sort(),
      'each key once',
    )
    t.equal(stored?.sequenceNumber, 2 * n, 'each merge saw the previous one')
    t.same(await one.getBundle('example.org'), stored)
  })
}
