// Caller limits: connections per uid and per process, streams per process across connections.
import t from 'tap'
import {
  CallerLimits,
  type CallerLimitsOptions,
  REFUSALS_BEFORE_HOLD,
} from '../../../agent/workloadapi/caller-limits.js'

const limits = () =>
  new CallerLimits({
    maxConnectionsPerUid: 3,
    maxConnectionsPerProcess: 2,
    maxStreamsPerProcess: 2,
    maxStreamsPerUid: 100,
  })

t.test('a process past its connection limit is refused; closing one makes room', async (t) => {
  const l = limits()
  t.equal(l.admitConnection('a', { uid: 1000, pid: 10 }), undefined)
  t.equal(l.admitConnection('b', { uid: 1000, pid: 10 }), undefined)
  t.equal(l.admitConnection('c', { uid: 1000, pid: 10 }), 'process')
  t.equal(
    l.admitConnection('c', { uid: 1000, pid: 11 }),
    undefined,
    'another process of the uid still gets in',
  )
  t.equal(l.admitConnection('d', { uid: 1000, pid: 12 }), 'uid', 'the uid is at its limit')
  t.equal(l.admitConnection('d', { uid: 1001, pid: 12 }), undefined, 'another uid is not affected')
  t.equal(l.connectionsOfUid(1000), 3)
  l.releaseConnection('a')
  l.releaseConnection('a')
  t.equal(l.connectionsOfUid(1000), 2, 'release is idempotent')
  t.equal(l.admitConnection('e', { uid: 1000, pid: 10 }), undefined)
  t.throws(() => l.admitConnection('e', { uid: 1000, pid: 10 }), TypeError, 'a key is counted once')
})

t.test('streams are counted per process across its connections', async (t) => {
  const l = limits()
  l.admitConnection('a', { uid: 1000, pid: 10 })
  l.admitConnection('b', { uid: 1000, pid: 10 })
  l.admitConnection('c', { uid: 1000, pid: 11 })
  const s1 = l.admitStream('a')
  const s2 = l.admitStream('b')
  t.type(s1, 'function')
  t.type(s2, 'function')
  t.equal(l.admitStream('a'), undefined, 'the third stream of pid 10 is refused, whichever connection')
  t.equal(l.admitStream('b'), undefined)
  t.type(l.admitStream('c'), 'function', 'pid 11 has its own share')
  s1?.()
  s1?.()
  t.equal(l.streamsOf(10), 1, 'release is idempotent')
  t.type(l.admitStream('b'), 'function', 'a released stream makes room')
  t.equal(l.admitStream('unknown'), undefined, 'an unknown connection gets nothing')
  t.same(l.peerOf('c'), { uid: 1000, pid: 11 })
})

/** Limits of 10 connections and 4 streams per process (`over` changes them) that record the stream limits they set. */
function recording(over: Partial<CallerLimitsOptions>) {
  const set: [string, number | undefined][] = []
  const l = new CallerLimits(
    {
      maxConnectionsPerUid: 10,
      maxConnectionsPerProcess: 10,
      maxStreamsPerProcess: 4,
      maxStreamsPerUid: 100,
      ...over,
    },
    { setStreamLimit: (key, limit) => set.push([key, limit]) },
  )
  return { l, set }
}

t.test('a process that keeps opening streams past its limit is held back at HTTP/2', async (t) => {
  const { l, set } = recording({ maxConnectionsPerUid: 10, maxStreamsPerUid: 100 })
  l.admitConnection('a', { uid: 1000, pid: 10 })
  l.admitConnection('b', { uid: 1000, pid: 10 })
  l.admitConnection('c', { uid: 1000, pid: 11 })
  const held = [l.admitStream('a'), l.admitStream('a'), l.admitStream('a'), l.admitStream('b')]
  t.ok(
    held.every((r) => typeof r === 'function'),
    'four streams admitted',
  )
  for (let i = 1; i < REFUSALS_BEFORE_HOLD; i++) t.equal(l.admitStream(i % 2 === 0 ? 'a' : 'b'), undefined)
  t.same(set, [], `${REFUSALS_BEFORE_HOLD - 1} refusals: still refused one by one`)
  t.equal(l.isHeldBack(10), false)
  t.equal(l.admitStream('b'), undefined)
  t.same(
    set,
    [
      ['a', 3],
      ['b', 1],
    ],
    'one refusal more: each connection of the process may open no more streams than it holds',
  )
  t.ok(l.isHeldBack(10))
  t.equal(l.streamLimitOf('c'), undefined, 'another process is not held back')
  set.length = 0
  held[0]?.()
  t.same(set, [], 'an ended stream leaves its connection room for one (its limit stays)')
  t.type(l.admitStream('a'), 'function', 'and that one is admitted')
  t.equal(l.admitStream('a'), undefined)
  t.same(set, [], 'a refusal on a connection at its limit changes nothing')
  l.admitConnection('d', { uid: 1000, pid: 10 })
  t.equal(l.admitStream('d'), undefined, 'a new connection of the process is refused too')
  t.same(set, [['d', 0]], 'and held back')
  set.length = 0
  held[1]?.()
  t.same(set, [], 'three streams held: still held back')
  held[2]?.()
  t.same(
    set,
    [
      ['a', undefined],
      ['b', undefined],
      ['d', undefined],
    ],
    'at half its limit the process gets the default back on every connection',
  )
  t.equal(l.isHeldBack(10), false)
  set.length = 0
  t.type(l.admitStream('b'), 'function')
  t.type(l.admitStream('b'), 'function')
  t.equal(l.admitStream('b'), undefined, 'at its limit again: refused one by one, the count starts over')
  t.same(set, [])
})

t.test('streams are counted per uid across its processes', async (t) => {
  const { l, set } = recording({ maxConnectionsPerUid: 1000, maxStreamsPerUid: 6 })
  // three processes of uid 1000 (a parent that forked), one of uid 1001
  for (const [key, pid] of [
    ['a', 10],
    ['b', 11],
    ['c', 12],
  ] as const)
    l.admitConnection(key, { uid: 1000, pid })
  l.admitConnection('d', { uid: 1001, pid: 13 })
  const a = [l.admitStream('a'), l.admitStream('a'), l.admitStream('a')]
  const b = [l.admitStream('b'), l.admitStream('b'), l.admitStream('b')]
  t.ok(
    [...a, ...b].every((r) => typeof r === 'function'),
    'six streams of uid 1000 admitted',
  )
  t.equal(l.streamsOfUid(1000), 6)
  t.equal(l.admitStream('c'), undefined, 'a third process of the uid gets none: the uid is at its limit')
  t.equal(l.streamLimitReached('c'), 'uid')
  t.type(l.admitStream('d'), 'function', 'another uid is not affected')
  for (let i = 1; i < REFUSALS_BEFORE_HOLD; i++) l.admitStream('c')
  t.same(set, [['c', 0]], `after ${REFUSALS_BEFORE_HOLD} refusals at the uid limit the process is held back`)
  t.ok(l.isHeldBack(12))
  set.length = 0
  a[0]?.()
  t.same(set, [], 'one stream of the uid ends: still above half the uid limit')
  a[1]?.()
  a[2]?.()
  t.same(set, [['c', undefined]], 'at half the uid limit its held-back processes get the default again')
  t.equal(l.isHeldBack(12), false)
  for (const release of b) release?.()
  t.equal(l.streamsOfUid(1000), 0)
})

t.test('limits must be whole numbers ≥ 1', async (t) => {
  t.throws(
    () =>
      new CallerLimits({
        maxConnectionsPerUid: 0,
        maxConnectionsPerProcess: 1,
        maxStreamsPerProcess: 1,
        maxStreamsPerUid: 1,
      }),
    TypeError,
  )
  t.throws(
    () =>
      new CallerLimits({
        maxConnectionsPerUid: 1,
        maxConnectionsPerProcess: 1.5,
        maxStreamsPerProcess: 1,
        maxStreamsPerUid: 1,
      }),
    TypeError,
  )
})
