// The issuance loop through the cache: a process's SVIDs renew together (one batch, one
// snapshot per rotation), issuance keeps a bounded number of batches in flight, and each SVID
// is logged at debug level with one info summary per round.
import t from 'tap'
import type { X509SvidRequest } from '../../../agent/cache/authorized-state.js'
import { MAX_BATCHES_IN_FLIGHT } from '../../../agent/cache/issuance-loop.js'
import { MAX_X509_BATCH } from '../../../agent/cache/x509-svid-batcher.js'
import { identity, settle, setup, stillPending, until } from './cache-setup.js'
import { entry, gate } from './fake-server.js'

const UID = 'unix:uid:1000'

/** A random source that returns these values in turn (then the last one). */
function draws(...values: number[]) {
  let i = 0
  return () => values[Math.min(i++, values.length - 1)]!
}

t.test("a process's SVIDs renew together: one batch and one snapshot per rotation", async (t) => {
  // Per-SVID draws would put the renewals of a, b and c at 55 s, 45 s and 51 s.
  const { mc, server, cache, proc } = await setup(t, { random: draws(0, 0.99, 0.6) })
  const ids = ['a', 'b', 'c']
  cache.update(
    server.state(ids.map((id) => entry({ id, path: `/${id}`, selectors: [UID], x509SvidTtl: 100 }))),
  )
  const sub = cache.subscribe(proc(40, 1, [UID]))
  const first = await identity(sub.next())
  t.equal(first.svids.length, 3)
  const calls = server.issuer.x509Calls.length
  mc.advance(46_000)
  await cache.maintain()
  await settle()
  t.equal(server.issuer.x509Calls.length, calls, 'no SVID of the process renewed before its time')
  mc.advance(9_000) // 55 s: the one draw of the process says renew now
  await cache.maintain()
  const second = await identity(sub.next())
  t.same(
    server.issuer.x509Calls.slice(calls).map((c) => c.map((r) => r.entryId).sort()),
    [['a', 'b', 'c']],
    'all three in one call',
  )
  for (const [i, s] of second.svids.entries())
    t.not(s.serial, first.svids[i]!.serial, `${s.spiffeId} renewed`)
  await settle()
  t.ok(await stillPending(sub.next()), 'one snapshot for the rotation, not one per SVID')
  sub.close()
})

t.test('an SVID added later falls in step with the others within one rotation', async (t) => {
  const { mc, server, cache, proc } = await setup(t) // random 0.5: renewal at half the life
  const a = entry({ id: 'a', path: '/a', selectors: [UID], x509SvidTtl: 100 })
  const b = entry({ id: 'b', path: '/b', selectors: [UID], x509SvidTtl: 100 })
  cache.update(server.state([a]))
  const sub = cache.subscribe(proc(40, 1, [UID]))
  await identity(sub.next())
  mc.advance(30_000)
  cache.update(server.state([a, b])) // b issued at 30 s: due at 80 s
  await until(() => cache.stats().x509Svids === 2)
  const entriesOfCallsSince = (n: number) =>
    server.issuer.x509Calls.slice(n).map((c) => c.map((r) => r.entryId).sort())
  let n = server.issuer.x509Calls.length
  mc.advance(20_000) // 50 s: a is due; b went only 20 of its 50 s
  await cache.maintain()
  await until(() => server.issuer.x509Calls.length > n)
  await settle()
  t.same(entriesOfCallsSince(n), [['a']])
  n = server.issuer.x509Calls.length
  mc.advance(30_000) // 80 s: b is due; a (renewed at 50 s) went 30 of its 50 s
  await cache.maintain()
  await until(() => server.issuer.x509Calls.length > n)
  await settle()
  t.same(entriesOfCallsSince(n), [['a', 'b']], 'a comes along with b')
  n = server.issuer.x509Calls.length
  mc.advance(50_000) // 130 s: both due at once from now on
  await cache.maintain()
  await until(() => server.issuer.x509Calls.length > n)
  await settle()
  t.same(entriesOfCallsSince(n), [['a', 'b']])
  sub.close()
})

t.test('issuance keeps a bounded number of batches in flight, whole processes per batch', async (t) => {
  const { server, cache, proc } = await setup(t)
  const processes = MAX_BATCHES_IN_FLIGHT + 3
  const perProcess = Math.floor(MAX_X509_BATCH * 0.6) // two processes never fit one batch
  const entries = []
  for (let p = 0; p < processes; p++) {
    for (let e = 0; e < perProcess; e++) {
      entries.push(entry({ id: `p${p}e${e}`, path: `/p${p}/e${e}`, selectors: [`unix:uid:${2000 + p}`] }))
    }
  }
  cache.update(server.state(entries))
  let active = 0
  let most = 0
  const sign = server.issuer.newX509Svids.bind(server.issuer)
  server.issuer.newX509Svids = async (requests: readonly X509SvidRequest[]) => {
    active++
    most = Math.max(most, active)
    try {
      return await sign(requests)
    } finally {
      active--
    }
  }
  const g = gate()
  server.issuer.gate = g.promise
  const subs = []
  for (let p = 0; p < processes; p++) subs.push(cache.subscribe(proc(100 + p, 1, [`unix:uid:${2000 + p}`])))
  await until(() => server.issuer.x509Calls.length >= MAX_BATCHES_IN_FLIGHT)
  await settle()
  t.equal(server.issuer.x509Calls.length, MAX_BATCHES_IN_FLIGHT, 'no more batches while those are in flight')
  g.open()
  const snapshots = await Promise.all(subs.map((s) => identity(s.next())))
  t.ok(
    snapshots.every((s) => s.svids.length === perProcess),
    'every process got all its SVIDs',
  )
  t.equal(server.issuer.x509Calls.length, processes, 'one call per process')
  for (const call of server.issuer.x509Calls) {
    const owners = new Set(call.map((r) => r.entryId.split('e')[0]))
    t.equal(owners.size, 1, 'a batch holds one whole process')
    t.equal(call.length, perProcess)
  }
  t.ok(most <= MAX_BATCHES_IN_FLIGHT, `at most ${MAX_BATCHES_IN_FLIGHT} calls at once (saw ${most})`)
  for (const s of subs) s.close()
})

t.test('each SVID is logged at debug level; a round logs one info summary', async (t) => {
  const { server, cache, proc, lines } = await setup(t)
  cache.update(
    server.state(['a', 'b'].map((id) => entry({ id, path: `/${id}`, selectors: [UID], x509SvidTtl: 100 }))),
  )
  const sub = cache.subscribe(proc(40, 1, [UID]))
  await identity(sub.next())
  await settle()
  const perSvid = lines.filter((l) => l.msg === 'X509-SVID issued for workload')
  t.same(
    perSvid.map((l) => l.level),
    ['debug', 'debug'],
  )
  const summaries = lines.filter((l) => l.level === 'info' && l.msg === 'workload X509-SVIDs issued')
  t.equal(summaries.length, 1)
  t.match(summaries[0]!.obj, { issued: 2, failed: 0, processes: 1, batches: 1 })
  sub.close()
})
