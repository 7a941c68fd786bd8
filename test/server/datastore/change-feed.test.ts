// The change feed behind watchChanges: coalescing (a storm of reports costs a listener at most
// one call per COALESCE_MS, the first at once, nothing lost), every kind once when the watch goes
// live and for a new subscriber, start/stop following the subscribers, a throwing listener.
import t from 'tap'
import { ChangeFeed, COALESCE_MS, DATA_CHANGE_KINDS } from '../../../server/datastore/change-feed.js'
import type { DataChange } from '../../../server/datastore/datastore.js'
import { waitUntil } from '../../helpers/wait-until.js'

function feedWithHooks() {
  const events: string[] = []
  const errors: unknown[] = []
  const feed = new ChangeFeed({
    start: () => events.push('start'),
    stop: () => events.push('stop'),
    onListenerError: (e) => errors.push(e),
  })
  return { feed, events, errors }
}

t.test('a storm of reports: calls at least COALESCE_MS apart, none lost', async (t) => {
  const { feed } = feedWithHooks()
  const calls: { at: number; changes: DataChange[] }[] = []
  const unsubscribe = feed.subscribe((c) => calls.push({ at: performance.now(), changes: [...c] }))
  feed.live()
  await waitUntil('the first call', () => calls.length === 1)
  t.same(calls[0]!.changes, DATA_CHANGE_KINDS, 'live: every kind once')
  const stormStart = performance.now()
  const reported = new Set<DataChange>()
  while (performance.now() - stormStart < 1_000) {
    const kind = DATA_CHANGE_KINDS[Math.floor(Math.random() * DATA_CHANGE_KINDS.length)]!
    feed.report([kind])
    reported.add(kind)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  feed.report(['policies'])
  reported.add('policies')
  const stormEnd = performance.now()
  await waitUntil('the last report delivered', () =>
    calls.some((c) => c.at >= stormEnd && c.changes.includes('policies')),
  )
  const gaps = calls.slice(1).map((c, i) => c.at - calls[i]!.at)
  t.comment(
    `${calls.length} calls for ~${Math.round(1_000 / 2)} reports over 1 s; gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`,
  )
  t.ok(
    gaps.every((g) => g >= COALESCE_MS - 5),
    `every gap >= ${COALESCE_MS} ms (timers never fire early)`,
  )
  t.ok(calls.length <= 9, 'at most ~5 calls a second')
  const delivered = new Set(calls.slice(1).flatMap((c) => c.changes))
  t.same([...reported].sort(), [...delivered].sort(), 'every reported kind was delivered')
  unsubscribe()
  feed.close()
})

t.test(
  'start with the first subscriber, stop after the last; a new subscriber gets every kind',
  async (t) => {
    const { feed, events, errors } = feedWithHooks()
    const a: DataChange[][] = []
    const b: DataChange[][] = []
    const offA = feed.subscribe((c) => a.push([...c]))
    t.same(events, ['start'])
    t.same(a, [], 'nothing before the watch is live')
    feed.live()
    await waitUntil('a told every kind', () => a.length === 1)
    const offThrower = feed.subscribe(() => {
      throw new Error('listener bug')
    })
    const offB = feed.subscribe((c) => b.push([...c]))
    await waitUntil('b told every kind', () => b.length === 1)
    t.same(b[0], DATA_CHANGE_KINDS)
    t.equal(a.length, 1, 'a is not told again when b arrives')
    await waitUntil('the throwing listener reported', () => errors.length === 1)
    feed.down()
    feed.live() // a reconnect: everyone hears every kind again
    await waitUntil('both told again', () => a.length === 2 && b.length === 2)
    t.same(a[1], DATA_CHANGE_KINDS)
    offA()
    offThrower()
    t.same(events, ['start'], 'still watching for b')
    offB()
    offB()
    t.same(events, ['start', 'stop'], 'stopped after the last, once')
    feed.subscribe(() => {})
    t.same(events, ['start', 'stop', 'start'])
    feed.close()
    feed.close()
    t.same(events, ['start', 'stop', 'start', 'stop'], 'close stops it')
    const late = feed.subscribe(() => t.fail('a closed feed calls nobody'))
    feed.report(['entries'])
    late()
    t.throws(() => feed.subscribe('x' as unknown as () => void), TypeError)
  },
)
