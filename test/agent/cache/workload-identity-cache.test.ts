// The per-process identity cache against a fake server that really signs (test CA), with a
// manual clock and a fake process table, so rotation, expiry and PID reuse are deterministic.
import t from 'tap'
import type { AuthorizedEntry } from '../../../agent/cache/authorized-state.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { createTestCa } from '../../helpers/testca.js'
import { identity, keyMatchesLeaf, settle, setup, stillPending, until } from './cache-setup.js'
import { entry, gate } from './fake-server.js'

const UID = 'unix:uid:1000'

t.test('subscribers are held until the first sync; a caller matching nothing gets no-identity', async (t) => {
  const { server, cache, proc } = await setup(t)
  const sub = cache.subscribe(proc(10, 1, [UID]))
  const first = sub.next()
  t.equal(cache.stats().synced, false)
  t.ok(await stillPending(first), 'held before the first sync, not refused')
  cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID] })]))
  const snap = await identity(first)
  t.same(
    snap.svids.map((s) => s.spiffeId),
    ['spiffe://example.org/web'],
  )
  const other = cache.subscribe(proc(11, 1, ['unix:uid:2000']))
  t.same(await other.next(), { kind: 'no-identity', reason: 'no-matching-entry' })
  other.close()
  sub.close()
})

t.test(
  'each process gets its own keys and SVIDs, batched with distinct entries, all ready first',
  async (t) => {
    const { server, cache, proc } = await setup(t)
    const g = gate()
    server.issuer.gate = g.promise
    const later = new Date('2026-02-01T00:00:00Z')
    cache.update(
      server.state([
        entry({ id: 'b', path: '/web', selectors: [UID] }),
        entry({ id: 'a', path: '/db', selectors: [UID], hint: 'internal' }),
        entry({ id: 'c', path: '/dup', selectors: [UID], hint: 'internal', createdAt: later }),
        entry({ id: 'd', path: '/nobody', selectors: ['unix:uid:3000'] }),
      ]),
    )
    const sub1 = cache.subscribe(proc(20, 7, [UID, 'unix:gid:1000']))
    const sub2 = cache.subscribe(proc(21, 7, [UID]))
    const n1 = sub1.next()
    const n2 = sub2.next()
    await until(() => server.issuer.x509Calls.length === 2)
    t.equal(server.issuer.x509Calls.length, 2, 'issuance started')
    t.ok((await stillPending(n1)) && (await stillPending(n2)), 'held while SVIDs are minted')
    g.open()
    const [s1, s2] = [await identity(n1), await identity(n2)]
    t.same(
      s1.svids.map((s) => s.entry.id),
      ['a', 'b'],
      'sorted by entry ID; the later entry with a duplicate hint is left out',
    )
    t.same(
      s2.svids.map((s) => s.spiffeId),
      ['spiffe://example.org/db', 'spiffe://example.org/web'],
    )
    t.equal(server.issuer.x509Calls.length, 2, 'two processes x two entries: two batches')
    for (const call of server.issuer.x509Calls) {
      t.equal(new Set(call.map((r) => r.entryId)).size, call.length, 'entry IDs distinct within a batch')
    }
    for (const i of [0, 1]) {
      const a = s1.svids[i]!
      const b = s2.svids[i]!
      t.equal(a.spiffeId, b.spiffeId)
      t.not(a.serial, b.serial, 'different serials')
      t.notOk(a.privateKeyPkcs8Der.equals(b.privateKeyPkcs8Der), 'different keys')
      t.ok(keyMatchesLeaf(a) && keyMatchesLeaf(b), 'each key belongs to its leaf')
      t.doesNotThrow(() => verifyX509Svid(a.chainDer, server.ca.authoritiesFor))
    }
    t.equal(cache.stats().x509Svids, 4)
    t.equal(cache.stats().processes, 2)
    sub1.close()
    sub2.close()
    t.same(cache.stats(), {
      synced: true,
      processes: 0,
      x509Svids: 0,
      spareX509Svids: 0,
      jwtSvids: 0,
      subscriptions: 0,
    })
  },
)

t.test('entry changes: revision re-issues, new entries join, removal leaves no identity', async (t) => {
  const { server, cache, proc } = await setup(t)
  const a1 = entry({ id: 'a', path: '/web', selectors: [UID] })
  cache.update(server.state([a1]))
  const sub = cache.subscribe(proc(30, 1, [UID]))
  const first = await identity(sub.next())
  cache.update(server.state([{ ...a1, revisionNumber: 2 }]))
  const second = await identity(sub.next())
  t.not(second.svids[0]!.serial, first.svids[0]!.serial, 'new revision, new SVID')
  const d = entry({ id: 'd', path: '/extra', selectors: [UID] })
  cache.update(server.state([{ ...a1, revisionNumber: 2 }, d]))
  const third = await identity(sub.next())
  t.same(
    third.svids.map((s) => s.entry.id),
    ['a', 'd'],
    'the next snapshot has the new identity too',
  )
  t.equal(third.svids[0]!.serial, second.svids[0]!.serial, 'unchanged entry keeps its SVID')
  cache.update(server.state([]))
  t.same(await sub.next(), { kind: 'no-identity', reason: 'no-matching-entry' })
  t.equal(cache.stats().x509Svids, 0)
  sub.close()
})

t.test(
  'rotation at the jittered half-life; down issuer: cached SVID served, never an expired one',
  async (t) => {
    const { mc, server, cache, proc } = await setup(t)
    cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID], x509SvidTtl: 100 })]))
    const p = proc(40, 1, [UID])
    const sub = cache.subscribe(p)
    const s1 = (await identity(sub.next())).svids[0]!
    const calls = server.issuer.x509Calls.length
    mc.advance(45_000)
    await cache.maintain()
    await settle()
    t.equal(server.issuer.x509Calls.length, calls, 'not renewed with 55% of the life left')
    mc.advance(10_000)
    await cache.maintain()
    const s2 = (await identity(sub.next())).svids[0]!
    t.not(s2.serial, s1.serial, 'renewed once half the life was used')
    t.ok(keyMatchesLeaf(s2))
    t.notOk(s2.privateKeyPkcs8Der.equals(s1.privateKeyPkcs8Der), 'renewal uses a new key')

    server.issuer.down = true
    mc.advance(60_000) // s2 has ~40 s left: due for renewal, but the issuer is down
    await cache.maintain()
    await settle()
    const again = cache.subscribe(p)
    t.equal((await identity(again.next())).svids[0]!.serial, s2.serial, 'cached, still valid SVID served')
    const pendingOld = sub.next()
    mc.advance(39_500) // less than a second left
    await cache.maintain()
    const late = cache.subscribe(p)
    const lateNext = late.next()
    t.ok(await stillPending(lateNext), 'an SVID about to expire is not handed out')
    t.ok(await stillPending(pendingOld), 'and nothing is pushed to the open stream')
    mc.advance(1_000)
    await cache.maintain()
    t.equal(cache.stats().x509Svids, 0, 'expired SVID dropped')
    server.issuer.down = false
    await cache.maintain()
    const s3 = (await identity(lateNext)).svids[0]!
    t.not(s3.serial, s2.serial, 'issuance resumes once the server is back')
    t.ok(s3.notAfter.getTime() > mc.clock().getTime())
    t.equal((await identity(pendingOld)).svids[0]!.serial, s3.serial, 'the open stream gets it too')
    for (const s of [sub, again, late]) s.close()
  },
)

t.test('process exit and PID reuse drop everything held for the old process', async (t) => {
  const { server, cache, proc, starts, lines } = await setup(t)
  cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID] })]))
  const sub1 = cache.subscribe(proc(50, 100, [UID]))
  const old = (await identity(sub1.next())).svids[0]!
  t.equal(cache.stats().processes, 1)
  starts.set(50, 200) // the PID now belongs to another process
  await cache.maintain()
  t.same(await sub1.next(), { kind: 'no-identity', reason: 'process-gone' })
  t.same([cache.stats().processes, cache.stats().x509Svids], [0, 0])
  t.ok(lines.some((l) => l.level === 'info' && (l.obj as { pid?: number }).pid === 50))
  sub1.close()

  const sub2 = cache.subscribe(proc(50, 200, [UID]))
  const fresh = (await identity(sub2.next())).svids[0]!
  t.not(fresh.serial, old.serial)
  t.notOk(
    fresh.privateKeyPkcs8Der.equals(old.privateKeyPkcs8Der),
    'the new process gets nothing of the old one',
  )
  // A new subscription for the same PID with another start time replaces the record at once.
  const sub3 = cache.subscribe(proc(50, 300, [UID]))
  t.same(await sub2.next(), { kind: 'no-identity', reason: 'process-gone' })
  const third = (await identity(sub3.next())).svids[0]!
  t.not(third.serial, fresh.serial)
  sub2.close()
  sub3.close()

  starts.delete(51)
  const release = cache.retain(proc(51, 1, [UID]))
  starts.delete(51) // exited
  await cache.maintain()
  t.equal(cache.stats().processes, 0, 'an exited process is dropped even while held')
  release()
})

t.test('a hold keeps a process (and its SVIDs) across subscriptions; release drops it', async (t) => {
  const { server, cache, proc } = await setup(t)
  cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID] })]))
  const p = proc(60, 1, [UID])
  const release = cache.retain(p)
  const sub = cache.subscribe(p)
  const first = (await identity(sub.next())).svids[0]!
  sub.close()
  t.equal(cache.stats().x509Svids, 1)
  const sub2 = cache.subscribe(p)
  t.equal((await identity(sub2.next())).svids[0]!.serial, first.serial, 'same process, same SVID')
  sub2.close()
  release()
  t.equal(cache.stats().processes, 0)
})

t.test('federated bundles go only to processes whose entries federate with them', async (t) => {
  const { server, cache, proc } = await setup(t)
  const foreign = await createTestCa({ trustDomain: 'other.org' })
  const otherBundle = TrustBundle.create({
    trustDomain: TrustDomain.parse('other.org'),
    x509Authorities: [foreign.rootDer],
  })
  const fed = new Map([['other.org', otherBundle]])
  cache.update(
    server.state(
      [
        entry({ id: 'a', path: '/web', selectors: [UID], federatesWith: ['spiffe://other.org'] }),
        entry({ id: 'b', path: '/db', selectors: ['unix:uid:2000'] }),
      ],
      fed,
    ),
  )
  const web = await identity(cache.subscribeBundles(proc(90, 1, [UID])).next())
  t.same([...web.federatedBundles.keys()], ['other.org'])
  t.same(web.svids, [], 'bundle subscriptions mint nothing')
  t.equal(server.issuer.x509Calls.length, 0)
  const db = await identity(cache.subscribeBundles(proc(91, 1, ['unix:uid:2000'])).next())
  t.same([...db.federatedBundles.keys()], [])
  t.ok(cache.bundlesFor(proc(92, 1, [UID]))?.federatedBundles.has('other.org'))
  t.equal(cache.bundlesFor(proc(93, 1, ['unix:uid:2000']))?.bundle, server.bundle)
  cache.close()
})

t.test('attestation wants follow the entries', async (t) => {
  const { server, cache } = await setup(t)
  t.same(cache.attestationWants(), { sha256: false, scriptSha256: false })
  const withHash: AuthorizedEntry = entry({
    id: 'h',
    path: '/h',
    selectors: ['unix:sha256:00ff', 'proc:script_sha256:aa'],
  })
  cache.update(server.state([withHash]))
  t.same(cache.attestationWants(), { sha256: true, scriptSha256: true })
})

t.test('maintenance never throws; an unreadable process is dropped (fail closed)', async (t) => {
  const { server, cache, proc, lines } = await setup(t, {
    procStartTime: () => {
      throw new Error('boom')
    },
  })
  cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID] })]))
  const release = cache.retain(proc(95, 1, [UID]))
  await cache.maintain()
  t.equal(cache.stats().processes, 0)
  t.ok(lines.some((l) => l.level === 'warn'))
  release()
})

t.test('close ends subscriptions', async (t) => {
  const { cache, proc } = await setup(t)
  const sub = cache.subscribe(proc(99, 1, [UID]))
  const n = sub.next()
  cache.close()
  t.equal(await n, undefined)
  t.equal(await cache.subscribe(proc(98, 1, [UID])).next(), undefined, 'no new subscriptions after close')
})
