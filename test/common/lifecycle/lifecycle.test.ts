// Lifecycle: components close in reverse order of start, the first fatal background failure
// stops everything, and `stopped` tells a requested stop from a failure.
import t from 'tap'
import { Lifecycle } from '../../../common/lifecycle/lifecycle.js'

const quiet = { debug() {}, info() {}, warn() {}, error() {} }

t.test('close aborts the signal, closes in reverse order once, resolves stopped with nothing', async (t) => {
  const life = new Lifecycle(quiet)
  const closed: string[] = []
  life.onClose('datastore', () => {
    closed.push('datastore')
  })
  life.onClose('api', async () => {
    closed.push('api')
    throw new Error('a failing close does not stop the others')
  })
  life.onClose('endpoint', () => {
    closed.push('endpoint')
  })
  let taskSawAbort = false
  life.background(
    'loop',
    new Promise<void>((resolve) =>
      life.signal.addEventListener('abort', () => {
        taskSawAbort = true
        resolve()
      }),
    ),
  )
  await Promise.all([life.close(), life.close()])
  t.same(closed, ['endpoint', 'api', 'datastore'])
  t.ok(taskSawAbort)
  t.equal(await life.stopped, undefined)
})

t.test('the first fatal background failure stops the daemon with that error', async (t) => {
  const logged: string[] = []
  const life = new Lifecycle({ ...quiet, error: (_o: object, msg: string) => void logged.push(msg) })
  let closed = false
  life.onClose('api', () => {
    closed = true
  })
  life.background('sync', Promise.reject(new Error('no identity')), 'cannot obtain an identity')
  const error = await life.stopped
  t.equal(error?.message, 'no identity')
  t.ok(closed)
  t.ok(life.signal.aborted)
  t.same(logged, ['cannot obtain an identity'])
})
