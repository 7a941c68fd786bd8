// The agent's report of exited processes' revoke-on-exit serials: batches of at most 1000, a
// failed call is retried with what is still pending, expired serials are never sent.
import t from 'tap'
import { ExitedSvidReporter, MAX_SERIALS_PER_CALL } from '../../../agent/sync/exited-svid-reporter.js'
import { SigilError } from '../../../certs/errors.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { collectingLogger } from '../cache/fake-server.js'

function fakeServer() {
  const calls: string[][] = []
  let failures = 0
  let onFailure = () => {}
  return {
    calls,
    /** The next call fails after running `then` (e.g. time passes while the server is away). */
    failNext(then: () => void) {
      failures = 1
      onFailure = then
    },
    server: {
      async revokeExitedSvids(req: { serials?: string[] }) {
        const serials = [...(req.serials ?? [])]
        calls.push(serials)
        if (failures > 0) {
          failures--
          onFailure()
          throw new SigilError('ERR_UNAVAILABLE', 'server away')
        }
        return { revoked: serials, refused: [] }
      },
    },
  }
}

t.test('sends in batches of at most 1000; retries after a failure; drops expired serials', async (t) => {
  let now = new Date('2030-01-01T00:00:00Z')
  const { logger, lines } = collectingLogger()
  const fake = fakeServer()
  const reporter = new ExitedSvidReporter({
    server: () => fake.server,
    logger,
    clock: () => now,
    retryMs: 10,
  })
  t.teardown(() => reporter.close())
  const later = new Date(now.getTime() + 3_600_000)
  reporter.report(Array.from({ length: 1500 }, (_, i) => ({ serial: i.toString(16), notAfter: later })))
  await waitUntil('both batches sent', () => reporter.pending === 0 && fake.calls.length === 2, {
    timeoutMs: 5_000,
  })
  t.same(
    fake.calls.map((c) => c.length),
    [MAX_SERIALS_PER_CALL, 500],
  )

  // 'bb' expires while the server is away: the retry sends only 'aa'
  fake.failNext(() => {
    now = new Date(now.getTime() + 1_000)
  })
  reporter.report([
    { serial: 'aa', notAfter: later },
    { serial: 'bb', notAfter: new Date(now.getTime() + 5) },
  ])
  await waitUntil('the retry sent', () => reporter.pending === 0 && fake.calls.length === 4, {
    timeoutMs: 5_000,
  })
  t.ok(
    lines.some((l) => /will retry/.test(l.msg)),
    'the failed call is logged',
  )
  t.same(fake.calls.slice(2), [['aa', 'bb'], ['aa']], 'retried with what is still unexpired')
})
