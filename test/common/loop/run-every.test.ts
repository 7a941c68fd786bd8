// runEvery: the one periodic loop (CA rotation, server identity, agent sync) never throws,
// backs off after failures with the one formula, and stops when its signal aborts.
import t from 'tap'
import { retryDelayMs } from '../../../common/loop/backoff.js'
import { runEvery } from '../../../common/loop/run-every.js'

t.test('retryDelayMs doubles from the first delay, is capped, and jitters ±20 %', async (t) => {
  t.equal(retryDelayMs(1, 500, 5000, 0.5), 500)
  t.equal(retryDelayMs(2, 500, 5000, 0.5), 1000)
  t.equal(retryDelayMs(50, 500, 5000, 0.5), 5000)
  t.equal(retryDelayMs(1, 500, 5000, 0), 400)
  t.ok(retryDelayMs(1, 500, 5000, 0.999) <= 600)
})

t.test('a throwing or false step never ends the loop; delays back off, success resets them', async (t) => {
  const controller = new AbortController()
  const outcomes = ['throw', false, 'throw', true, false]
  const retries: [number, number][] = []
  const errors: unknown[] = []
  let calls = 0
  await runEvery(
    controller.signal,
    async () => {
      const outcome = outcomes[calls++]
      if (calls >= outcomes.length) controller.abort()
      if (outcome === 'throw') throw new Error(`boom ${calls}`)
      return outcome
    },
    {
      intervalMs: 1,
      retryInitialMs: 2,
      maxBackoffMs: 5,
      random: () => 0.5,
      onError: (e) => {
        errors.push(e)
        throw new Error('a failing hook is ignored')
      },
      onRetry: (delay, failures) => retries.push([delay, failures]),
    },
  )
  t.equal(calls, outcomes.length, 'every step ran')
  t.equal(errors.length, 2, 'thrown values reach onError')
  t.same(retries, [
    [2, 1],
    [4, 2],
    [5, 3],
    [2, 1],
  ])
})

t.test('an aborted signal stops the loop during its pause', async (t) => {
  const controller = new AbortController()
  let calls = 0
  const running = runEvery(
    controller.signal,
    async () => {
      calls++
    },
    { intervalMs: 60_000, maxBackoffMs: 60_000 },
  )
  controller.abort()
  await running
  t.equal(calls, 1)
})
