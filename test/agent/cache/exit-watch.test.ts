// Revoke-on-exit in the identity cache: the X509-SVIDs of a `--revoke-on-exit` entry given to a
// process (signed for it or adopted from the spare pool) are reported once the process is gone,
// even after it closed its connection first; other entries' SVIDs, spares still in the pool
// and live processes are never reported. Fake server that really signs, fake process table.
import t from 'tap'
import type { ExitedSvid } from '../../../agent/cache/workload-identity-cache.js'
import { identity, setup, until } from './cache-setup.js'
import { entry } from './fake-server.js'

const UID = 'unix:uid:1000'
const OTHER = 'unix:uid:2000'

function record(cache: { onExitedSvids: (l: (s: readonly ExitedSvid[], key: string) => void) => unknown }) {
  const reports: { key: string; serials: string[] }[] = []
  cache.onExitedSvids((svids, key) => reports.push({ key, serials: svids.map((s) => s.serial) }))
  return reports
}

t.test('a process that exits after disconnecting has its revoke-on-exit SVIDs reported, once', async (t) => {
  const { server, cache, proc, starts } = await setup(t)
  cache.update(
    server.state([
      { ...entry({ id: 'job', path: '/job', selectors: [UID] }), revokeOnExit: true },
      entry({ id: 'svc', path: '/svc', selectors: [UID] }),
      { ...entry({ id: 'other', path: '/other', selectors: [OTHER] }), revokeOnExit: true },
    ]),
  )
  const reports = record(cache)
  const sub = cache.subscribe(proc(10, 1, [UID]))
  const svids = (await identity(sub.next())).svids
  const job = svids.find((s) => s.entry.id === 'job')!
  t.ok(
    svids.find((s) => s.entry.id === 'svc'),
    'the process also holds an entry without the option',
  )
  const bystander = cache.subscribe(proc(20, 1, [OTHER]))
  await identity(bystander.next())

  sub.close() // disconnects first: the record is released …
  await cache.maintain()
  t.same(reports, [], '… but the process still runs: nothing reported')
  starts.delete(10) // … then it exits
  await cache.maintain()
  t.same(reports, [{ key: '10:1', serials: [job.serial] }], 'only the revoke-on-exit serial')
  await cache.maintain()
  t.equal(reports.length, 1, 'reported once')
})

t.test('a PID reused by another process counts as an exit; an expired SVID is not reported', async (t) => {
  const { server, cache, proc, starts, mc } = await setup(t)
  cache.update(
    server.state([{ ...entry({ id: 'job', path: '/job', selectors: [UID] }), revokeOnExit: true }]),
  )
  const reports = record(cache)
  const a = cache.subscribe(proc(10, 1, [UID]))
  const first = (await identity(a.next())).svids[0]!
  starts.set(10, 2) // PID 10 now belongs to another process
  await cache.maintain()
  t.same(reports, [{ key: '10:1', serials: [first.serial] }])

  const b = cache.subscribe(proc(11, 1, [UID]))
  await identity(b.next())
  mc.advance(2 * 3_600_000) // past the SVID's notAfter
  starts.delete(11)
  await cache.maintain()
  t.equal(reports.length, 1, 'an expired SVID needs no revocation')
})

t.test("a spare counts as the process's once given to it; spares in the pool are nobody's", async (t) => {
  const { server, cache, proc, starts } = await setup(t, { spareSvids: 4 })
  cache.update(
    server.state([{ ...entry({ id: 'job', path: '/job', selectors: [UID] }), revokeOnExit: true }]),
  )
  const reports = record(cache)
  const first = cache.subscribe(proc(10, 1, [UID]))
  await identity(first.next())
  await until(() => cache.stats().spareX509Svids === 1, 'a spare signed ahead')
  starts.delete(10)
  await cache.maintain()
  t.equal(reports.length, 1)
  await until(() => cache.stats().spareX509Svids === 1, 'a spare in the pool')
  const second = cache.subscribe(proc(11, 1, [UID]))
  const adopted = (await identity(second.next())).svids[0]!
  t.equal(cache.stats().spareX509Svids, 0, 'the process adopted the spare')
  starts.delete(11)
  await cache.maintain()
  t.same(reports[1], { key: '11:1', serials: [adopted.serial] }, 'the adopted spare is reported')
  t.equal(reports.length, 2, 'a spare left in the pool is not reported')
})
