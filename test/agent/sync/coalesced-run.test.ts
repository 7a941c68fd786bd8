// The coalescing behind server nudges: a burst of requests runs the job at most twice (one in
// flight, one queued), a join never doubles a run, and the sync loop's rounds never overlap.
import t from 'tap'
import type { AuthorizedState } from '../../../agent/cache/authorized-state.js'
import { CoalescedRun } from '../../../agent/sync/coalesced-run.js'
import { SyncLoop } from '../../../agent/sync/sync-loop.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { recordingLogger } from './server-kit.js'

/** A job whose runs end only when the test says so. */
function gatedJob() {
  const gates: (() => void)[] = []
  let running = 0
  let maxRunning = 0
  const job = () =>
    new Promise<number>((resolve) => {
      running++
      maxRunning = Math.max(maxRunning, running)
      const n = gates.length + 1
      gates.push(() => {
        running--
        resolve(n)
      })
    })
  return { job, gates, maxRunning: () => maxRunning }
}

const settle = () => new Promise((r) => setImmediate(r))

t.test('a burst of requests: one run in flight plus one queued', async (t) => {
  const g = gatedJob()
  const run = new CoalescedRun(g.job)
  const burst = Array.from({ length: 50 }, () => run.request())
  t.equal(run.started, 1, 'the first request starts a run')
  t.ok(run.running)
  g.gates[0]!()
  await settle()
  t.equal(run.started, 2, 'the 49 others share one queued run, started when the first ended')
  const more = Array.from({ length: 10 }, () => run.request())
  g.gates[1]!()
  await settle()
  t.equal(run.started, 3, 'requests made during the second run queue a third')
  g.gates[2]!()
  const results = await Promise.all([...burst, ...more])
  t.same(new Set(results.slice(0, 1)), new Set([1]), 'the first request got the first run')
  t.same(new Set(results.slice(1, 50)), new Set([2]), 'the burst got the queued run')
  t.same(new Set(results.slice(50)), new Set([3]))
  t.equal(g.maxRunning(), 1, 'never two runs at once')
  t.notOk(run.running)
  t.equal(run.started, 3, 'nothing left queued')
})

t.test('join: the run in flight, or a new one; never a second run at once', async (t) => {
  const g = gatedJob()
  const run = new CoalescedRun(g.job)
  const a = run.join()
  const b = run.join()
  t.equal(a, b, 'the same run')
  t.equal(run.started, 1)
  const nudged = run.request()
  const joinedAgain = run.join()
  t.equal(joinedAgain, a, 'a join during a run joins it, even with one queued')
  g.gates[0]!()
  await settle()
  t.equal(run.started, 2)
  t.equal(run.join(), run.join(), 'a join now joins the queued run that started')
  g.gates[1]!()
  t.equal(await nudged, 2)
  t.equal(g.maxRunning(), 1)
})

t.test('a job that throws or rejects still lets the queued run start', async (t) => {
  let n = 0
  const run = new CoalescedRun(async () => {
    n++
    if (n === 1) throw new Error('first fails')
    return n
  })
  const first = run.request()
  const second = run.request()
  await t.rejects(first, /first fails/)
  t.equal(await second, 2)
  const sync = new CoalescedRun((): Promise<number> => {
    throw new Error('synchronous')
  })
  await t.rejects(sync.request(), /synchronous/)
  t.notOk(sync.running)
})

t.test('SyncLoop.syncSoon: a burst of nudges costs at most one sync in flight plus one queued', async (t) => {
  const td = TrustDomain.parse('example.org')
  const state: AuthorizedState = {
    entries: [],
    bundle: TrustBundle.create({ trustDomain: td, x509Authorities: [], jwtAuthorities: [] }),
    federatedBundles: new Map(),
  }
  const g = gatedJob()
  let syncs = 0
  const loop = new SyncLoop({
    connection: {
      identity: undefined,
      renew: () => Promise.reject(new Error('not used')),
      syncAuthorizedEntries: async () => {
        syncs++
        await g.job()
        return state
      },
    },
    onState: () => {},
    logger: recordingLogger(),
  })
  const nudges = Array.from({ length: 20 }, () => loop.syncSoon())
  await settle()
  t.equal(syncs, 1, 'one sync in flight')
  const periodic = loop.round()
  await settle()
  t.equal(syncs, 1, 'the periodic round joins it')
  g.gates[0]!()
  await settle()
  await settle()
  t.equal(syncs, 2, 'then exactly one more for the whole burst')
  g.gates[1]!()
  t.same(new Set(await Promise.all(nudges)), new Set([true]))
  t.equal(await periodic, true)
  await settle()
  t.equal(syncs, 2, 'and nothing more')
  t.equal(loop.roundsStarted, 2)
  t.equal(g.maxRunning(), 1, 'rounds never overlap')
})
