// Caller limits: connections per uid and per process, streams per process across connections.
import t from 'tap'
import { CallerLimits } from '../../../agent/workloadapi/caller-limits.js'

const limits = () =>
  new CallerLimits({ maxConnectionsPerUid: 3, maxConnectionsPerProcess: 2, maxStreamsPerProcess: 2 })

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

t.test('limits must be whole numbers ≥ 1', async (t) => {
  t.throws(
    () => new CallerLimits({ maxConnectionsPerUid: 0, maxConnectionsPerProcess: 1, maxStreamsPerProcess: 1 }),
    TypeError,
  )
  t.throws(
    () =>
      new CallerLimits({ maxConnectionsPerUid: 1, maxConnectionsPerProcess: 1.5, maxStreamsPerProcess: 1 }),
    TypeError,
  )
})
