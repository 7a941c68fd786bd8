// Spare X509-SVIDs: signed ahead for entries new processes needed recently, each handed whole to
// one new process. Against the fake server that really signs, with a manual clock.
import t from 'tap'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { identity, keyMatchesLeaf, settle, setup, stillPending, until } from './cache-setup.js'
import { entry, gate } from './fake-server.js'

const UID = 'unix:uid:1000'

t.test(
  'a new process of a recently used entry gets a spare at once; each spare goes to one process',
  async (t) => {
    const { server, cache, proc } = await setup(t, { spareSvids: 4 })
    cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID] })]))
    const sub1 = cache.subscribe(proc(10, 1, [UID]))
    const first = (await identity(sub1.next())).svids[0]!
    await until(() => cache.stats().spareX509Svids === 1)
    t.equal(cache.stats().spareX509Svids, 1, 'a spare is signed once a process needed the entry')
    sub1.close()

    const g = gate()
    server.issuer.gate = g.promise // from here the server answers nothing until the gate opens
    const calls = server.issuer.x509Calls.length
    const sub2 = cache.subscribe(proc(11, 1, [UID]))
    const second = (await identity(sub2.next())).svids[0]!
    t.equal(cache.stats().spareX509Svids, 0, 'the spare left the pool')
    t.not(second.serial, first.serial)
    t.notOk(second.privateKeyPkcs8Der.equals(first.privateKeyPkcs8Der), 'a key of its own')
    t.ok(keyMatchesLeaf(second), 'the key belongs to the leaf')
    t.doesNotThrow(() => verifyX509Svid(second.chainDer, server.ca.authoritiesFor))
    await until(() => server.issuer.x509Calls.length > calls)
    t.same(
      server.issuer.x509Calls.slice(calls).map((c) => c.map((r) => r.entryId)),
      [['a']],
      'the pool asks for a replacement',
    )

    const sub3 = cache.subscribe(proc(12, 1, [UID]))
    const third = sub3.next()
    t.ok(await stillPending(third), 'no spare left: the next process waits for the server')
    g.open()
    const got = (await identity(third)).svids[0]!
    t.not(got.serial, second.serial)
    t.notOk(got.privateKeyPkcs8Der.equals(second.privateKeyPkcs8Der), 'a spare is never given twice')
    await until(() => cache.stats().spareX509Svids === 1)
    t.equal(cache.stats().spareX509Svids, 1, 'refilled')
    sub2.close()
    sub3.close()
  },
)

t.test('spares follow their entry: a new revision replaces them, removal drops them', async (t) => {
  const { server, cache, proc } = await setup(t, { spareSvids: 4 })
  const a1 = entry({ id: 'a', path: '/web', selectors: [UID] })
  cache.update(server.state([a1]))
  const sub = cache.subscribe(proc(20, 1, [UID]))
  await identity(sub.next())
  sub.close()
  await until(() => cache.stats().spareX509Svids === 1)
  const calls = server.issuer.x509Calls.length
  cache.update(server.state([{ ...a1, revisionNumber: 2 }]))
  t.equal(cache.stats().spareX509Svids, 0, 'the spare of revision 1 is dropped at once')
  await until(() => cache.stats().spareX509Svids === 1)
  t.equal(server.issuer.x509Calls.length, calls + 1, 'and one for revision 2 is signed')
  cache.update(server.state([]))
  t.equal(cache.stats().spareX509Svids, 0, 'a removed entry keeps no spare')
  await settle()
  t.equal(server.issuer.x509Calls.length, calls + 1, 'nor gets a new one')
})

t.test(
  'an idle spare is dropped at its renewal time; a wanted one is renewed; a due one is never handed out',
  async (t) => {
    const { mc, server, cache, proc } = await setup(t, { spareSvids: 4 })
    cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID], x509SvidTtl: 100 })]))
    const sub = cache.subscribe(proc(30, 1, [UID]))
    await identity(sub.next())
    sub.close()
    await until(() => cache.stats().spareX509Svids === 1)
    let calls = server.issuer.x509Calls.length
    mc.advance(30_000)
    // Demand after the spare was signed: another process of the entry started and went away.
    const sub2 = cache.subscribe(proc(31, 1, [UID]))
    await identity(sub2.next())
    sub2.close()
    await until(() => cache.stats().spareX509Svids === 1)
    calls = server.issuer.x509Calls.length
    mc.advance(51_000) // past the refilled spare's renewal time (half of 100 s), no demand since
    await cache.maintain()
    await settle()
    t.equal(cache.stats().spareX509Svids, 0, 'dropped, not renewed')
    t.equal(server.issuer.x509Calls.length, calls, 'no call for an idle entry')

    // A spare that came due while the server is down is not given to a new process.
    const sub3 = cache.subscribe(proc(32, 1, [UID]))
    await identity(sub3.next())
    sub3.close()
    await until(() => cache.stats().spareX509Svids === 1)
    server.issuer.down = true
    mc.advance(56_000)
    const sub4 = cache.subscribe(proc(33, 1, [UID]))
    const next = sub4.next()
    t.ok(await stillPending(next), 'the due spare is kept back')
    server.issuer.down = false
    mc.advance(1_000) // past the retry backoff
    const before = server.issuer.x509Calls.length
    await cache.maintain()
    const fresh = (await identity(next)).svids[0]!
    t.ok(fresh.notAfter.getTime() - mc.clock().getTime() > 90_000, 'the process got a freshly signed SVID')
    await until(() => server.issuer.x509Calls.length === before + 2)
    await settle()
    t.equal(server.issuer.x509Calls.length, before + 2, 'and the wanted spare was renewed')
    server.issuer.gate = gate().promise
    const sub5 = cache.subscribe(proc(34, 1, [UID]))
    const renewed = (await identity(sub5.next())).svids[0]!
    t.ok(
      renewed.notAfter.getTime() - mc.clock().getTime() > 90_000,
      'the next process gets the renewed spare',
    )
    sub4.close()
    sub5.close()
  },
)

t.test('at most spareSvids entries keep a spare, the least recently wanted leave first', async (t) => {
  const { mc, server, cache, proc } = await setup(t, { spareSvids: 2 })
  const uids = [1001, 1002, 1003]
  cache.update(
    server.state(uids.map((u) => entry({ id: `e${u}`, path: `/w${u}`, selectors: [`unix:uid:${u}`] }))),
  )
  for (const u of uids) {
    const sub = cache.subscribe(proc(u, 1, [`unix:uid:${u}`]))
    await identity(sub.next())
    sub.close()
    mc.advance(1_000)
  }
  await until(() => cache.stats().spareX509Svids === 2)
  await settle()
  t.equal(cache.stats().spareX509Svids, 2)
  const g = gate()
  server.issuer.gate = g.promise
  for (const u of [1002, 1003]) {
    const sub = cache.subscribe(proc(u + 100, 1, [`unix:uid:${u}`]))
    t.ok((await identity(sub.next())).svids.length === 1, `uid ${u}: served from a spare`)
    sub.close()
  }
  const sub = cache.subscribe(proc(1101, 1, ['unix:uid:1001']))
  t.ok(await stillPending(sub.next()), 'the least recently wanted entry has none')
  g.open()
  sub.close()
})

t.test('spareSvids: 0 signs nothing ahead', async (t) => {
  const { server, cache, proc } = await setup(t, { spareSvids: 0 })
  cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID] })]))
  const sub = cache.subscribe(proc(40, 1, [UID]))
  await identity(sub.next())
  sub.close()
  await settle()
  t.same(server.issuer.x509Calls.length, 1)
  t.equal(cache.stats().spareX509Svids, 0)
  await t.rejects(setup(t, { spareSvids: -1 }), TypeError)
})

t.test('an entry whose spare keeps failing is no longer asked for until new demand', async (t) => {
  const { mc, server, cache, proc } = await setup(t, { spareSvids: 4 })
  cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID] })]))
  const sub = cache.subscribe(proc(50, 1, [UID]))
  await identity(sub.next())
  sub.close()
  await until(() => cache.stats().spareX509Svids === 1)
  server.issuer.down = true
  const taker = cache.subscribe(proc(51, 1, [UID]))
  await identity(taker.next()) // takes the spare; its replacement fails
  taker.close()
  const calls = () => server.issuer.x509Calls.length
  for (let i = 0; i < 5; i++) {
    mc.advance(1_000)
    await cache.maintain()
    await settle()
  }
  const after = calls()
  for (let i = 0; i < 3; i++) {
    mc.advance(1_000)
    await cache.maintain()
    await settle()
  }
  t.equal(calls(), after, 'no more calls for the spare')
  server.issuer.down = false
  const next = cache.subscribe(proc(52, 1, [UID]))
  await identity(next.next())
  next.close()
  await until(() => cache.stats().spareX509Svids === 1)
  t.equal(cache.stats().spareX509Svids, 1, 'new demand brings it back')
})

t.test('an idle spare is not renewed by a round that other work starts', async (t) => {
  const { mc, server, cache, proc } = await setup(t, { spareSvids: 4 })
  cache.update(
    server.state([
      entry({ id: 'a', path: '/web', selectors: [UID], x509SvidTtl: 100 }),
      entry({ id: 'b', path: '/db', selectors: ['unix:uid:2000'], x509SvidTtl: 100 }),
    ]),
  )
  const sub = cache.subscribe(proc(60, 1, [UID]))
  await identity(sub.next())
  sub.close()
  await until(() => cache.stats().spareX509Svids === 1)
  mc.advance(51_000) // past the spare's renewal time, no demand since it was signed
  const other = cache.subscribe(proc(61, 1, ['unix:uid:2000'])) // starts a round; no maintenance pass
  await identity(other.next())
  await settle()
  const forA = server.issuer.x509Calls.flat().filter((r) => r.entryId === 'a').length
  t.equal(forA, 2, "a's SVIDs: the first process's and the spare, no renewal of the idle spare")
  t.same(
    server.issuer.x509Calls.at(-1)!.map((r) => r.entryId),
    ['b'],
    'the last call was for the spare of b',
  )
  other.close()
})
