// Conformance: federation relationships (migration 7) and the sequence-checked store of
// fetched bundles.
import type { Test } from 'tap'
import { type MakeStore, openStore } from './fixtures.js'

const web = {
  trustDomain: 'other.org',
  bundleEndpointUrl: 'https://bundle.other.org/',
  bundleEndpointProfile: 'https_web' as const,
  endpointSpiffeId: '',
}

export function federationTests(t: Test, makeStore: MakeStore): void {
  t.test('federation relationships are created, listed, updated, refreshed and deleted', async (t) => {
    const ds = await openStore(t, makeStore)
    const due = new Date('2030-01-01T00:00:00Z')
    const created = await ds.createFederationRelationship(web, due)
    t.match(created, { ...web, lastRefreshAt: undefined, lastError: '' })
    t.equal(created.nextRefreshAt.getTime(), due.getTime())
    t.ok(created.createdAt instanceof Date)
    t.same(await ds.getFederationRelationship('other.org'), created)
    await t.rejects(
      ds.createFederationRelationship(web, due),
      { code: 'ERR_INVALID_ARGUMENT' },
      'one per domain',
    )
    const spiffe = {
      trustDomain: 'a.example',
      bundleEndpointUrl: 'https://a.example:8443/',
      bundleEndpointProfile: 'https_spiffe' as const,
      endpointSpiffeId: 'spiffe://a.example/sigil/server',
    }
    await ds.createFederationRelationship(spiffe, due)
    t.same(
      (await ds.listFederationRelationships()).map((r) => r.trustDomain),
      ['a.example', 'other.org'],
    )

    const at = new Date('2030-01-01T00:00:05Z')
    const next = new Date('2030-01-01T00:05:05Z')
    await ds.recordFederationRefresh('other.org', { at, nextRefreshAt: next, error: 'HTTP 500' })
    t.match(await ds.getFederationRelationship('other.org'), { lastError: 'HTTP 500' })
    t.equal((await ds.getFederationRelationship('other.org'))?.lastRefreshAt?.getTime(), at.getTime())
    t.equal((await ds.getFederationRelationship('other.org'))?.nextRefreshAt.getTime(), next.getTime())

    const moved = await ds.updateFederationRelationship(
      { ...web, bundleEndpointUrl: 'https://moved.other.org/' },
      due,
    )
    t.match(moved, { bundleEndpointUrl: 'https://moved.other.org/', lastError: 'HTTP 500' }, 'history kept')
    t.equal(moved.nextRefreshAt.getTime(), due.getTime())
    await t.rejects(ds.updateFederationRelationship({ ...web, trustDomain: 'nobody.org' }, due), {
      code: 'ERR_NOT_FOUND',
    })
    await t.rejects(ds.recordFederationRefresh('nobody.org', { at, nextRefreshAt: next, error: '' }), {
      code: 'ERR_NOT_FOUND',
    })
    await ds.deleteFederationRelationship('other.org')
    t.equal(await ds.getFederationRelationship('other.org'), undefined)
    await t.rejects(ds.deleteFederationRelationship('other.org'), { code: 'ERR_NOT_FOUND' })
    await t.rejects(
      ds.createFederationRelationship({ ...web, endpointSpiffeId: 'spiffe://other.org/x' }, due),
      TypeError,
      'an endpoint ID only with https_spiffe',
    )
    await t.rejects(ds.createFederationRelationship({ ...spiffe, endpointSpiffeId: '' }, due), TypeError)
  })

  t.test('a fetched bundle is stored only when its sequence is higher', async (t) => {
    const ds = await openStore(t, makeStore)
    const put = (json: string, sequenceNumber: number) =>
      ds.storeFederatedBundle('other.org', { spiffeBundleJson: json, sequenceNumber })
    t.equal((await put('{"keys":[1]}', 3)).outcome, 'stored', 'none stored yet')
    t.equal((await put('{"keys":[1]}', 3)).outcome, 'unchanged', 'same sequence, same content')
    const stale = await put('{"keys":[2]}', 3)
    t.equal(stale.outcome, 'stale', 'same sequence, other content')
    t.equal(stale.record.spiffeBundleJson, '{"keys":[1]}', 'the stored bundle comes back')
    t.equal((await put('{"keys":[0]}', 2)).outcome, 'stale', 'an older sequence')
    t.match(await ds.getBundle('other.org'), { spiffeBundleJson: '{"keys":[1]}', sequenceNumber: 3 })
    t.equal((await put('{"keys":[4]}', 4)).outcome, 'stored', 'a newer one')
    t.match(await ds.getBundle('other.org'), { spiffeBundleJson: '{"keys":[4]}', sequenceNumber: 4 })
  })
}
