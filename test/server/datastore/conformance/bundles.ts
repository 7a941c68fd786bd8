// Conformance: trust bundles (own and federated) as opaque JSON.
import type { Test } from 'tap'
import { type MakeStore, openStore } from './fixtures.js'

export function bundleTests(t: Test, makeStore: MakeStore): void {
  t.test('bundles are set, replaced, listed and deleted by trust domain', async (t) => {
    const ds = await openStore(t, makeStore)
    t.equal(await ds.getBundle('example.org'), undefined)
    // kept byte for byte: the datastore never parses bundles
    const own1 = '{"keys":[],  "spiffe_sequence":1}'
    const set = await ds.setBundle('example.org', { spiffeBundleJson: own1, sequenceNumber: 1 })
    t.match(set, { trustDomain: 'example.org', spiffeBundleJson: own1, sequenceNumber: 1 })
    t.ok(set.updatedAt instanceof Date)
    t.same(await ds.getBundle('example.org'), set)
    const own2 = '{"keys":[{"kty":"EC"}],"spiffe_sequence":2}'
    await ds.setBundle('example.org', { spiffeBundleJson: own2, sequenceNumber: 2 })
    t.match(await ds.getBundle('example.org'), { spiffeBundleJson: own2, sequenceNumber: 2 }, 'replaced')
    await ds.setBundle('other.org', { spiffeBundleJson: '{"keys":[]}', sequenceNumber: 7 })
    await ds.setBundle('b.example', { spiffeBundleJson: '{"keys":[]}', sequenceNumber: 0 })
    t.same(
      (await ds.listBundles()).map((b) => b.trustDomain),
      ['b.example', 'example.org', 'other.org'],
    )
    await ds.deleteBundle('other.org')
    t.equal(await ds.getBundle('other.org'), undefined)
    await t.rejects(ds.deleteBundle('other.org'), { code: 'ERR_NOT_FOUND' })
    t.equal((await ds.listBundles()).length, 2)
    await t.rejects(ds.setBundle('x.org', { spiffeBundleJson: '{}', sequenceNumber: -1 }), TypeError)
    await t.rejects(ds.setBundle('', { spiffeBundleJson: '{}', sequenceNumber: 1 }), TypeError)
  })
}
