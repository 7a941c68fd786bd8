// The sync loop against a real agent API: state delivery, renewal at the configured fraction,
// refusal handling, and riding out a server outage.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { AuthorizedState } from '../../../agent/cache/authorized-state.js'
import type { AgentIdentity } from '../../../agent/sync/agent-identity.js'
import { ServerClient } from '../../../agent/sync/server-client.js'
import { MAX_SYNC_BACKOFF_MS, maxSyncBackoffMs, SyncLoop } from '../../../agent/sync/sync-loop.js'
import { isSigilError } from '../../../certs/errors.js'
import { retryDelayMs } from '../../../common/loop/backoff.js'
import { recordingLogger, startServerKit } from './server-kit.js'

async function attestedClient(
  t: { teardown(fn: () => unknown): void },
  kit: Awaited<ReturnType<typeof startServerKit>>,
  token: string,
) {
  await kit.createJoinToken(token)
  const client = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
  })
  t.teardown(() => client.close())
  const { identity } = await client.attest({ type: 'join_token', token })
  return { client, identity }
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

t.test('delivers complete states and renews the agent SVID when due', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  const { client, identity } = await attestedClient(t, kit, 'loop-1')
  const entry = await kit.createEntry('spiffe://example.org/api', identity.spiffeId.toString())
  const states: AuthorizedState[] = []
  const renewed: AgentIdentity[] = []
  let now = new Date()
  const loop = new SyncLoop({
    connection: client,
    onState: (s) => {
      states.push(s)
    },
    onRenewed: (id) => {
      renewed.push(id)
    },
    intervalMs: 100,
    rotationFraction: 0.5,
    logger: recordingLogger(),
    clock: () => now,
    random: () => 0.5,
  })
  t.ok(await loop.round())
  await loop.firstSync
  t.equal(states.length, 1)
  t.same(
    states[0]?.entries.map((e) => e.id),
    [entry.id],
  )
  t.equal(renewed.length, 0, 'a fresh SVID is not renewed')
  t.equal(loop.health().consecutiveFailures, 0)
  t.ok(loop.health().lastSuccess)

  // Just before half of the lifetime has passed: nothing; just after: renewed.
  const life = identity.notAfter.getTime() - identity.notBefore.getTime()
  now = new Date(identity.notBefore.getTime() + life * 0.49)
  t.ok(await loop.round())
  t.equal(renewed.length, 0)
  now = new Date(identity.notBefore.getTime() + life * 0.51)
  t.ok(await loop.round())
  t.equal(renewed.length, 1, 'renewed at half its life')
  t.not(renewed[0]?.serial, identity.serial)
  t.equal(client.identity?.serial, renewed[0]?.serial, 'the client presents the new SVID')
  t.equal(states.length, 3, 'and the sync after it went through')
  now = new Date(renewed[0]!.notBefore.getTime() + 60_000)
  t.ok(await loop.round())
  t.equal(renewed.length, 1, 'the new SVID has its own schedule')
})

t.test('a refused agent goes to onRefused; the loop never throws', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  const { client, identity } = await attestedClient(t, kit, 'loop-2')
  const refusals: unknown[] = []
  const logger = recordingLogger()
  const loop = new SyncLoop({
    connection: client,
    onState: () => {},
    onRefused: async (err) => {
      refusals.push(err)
      throw new Error('cannot recover')
    },
    logger,
  })
  await kit.datastore.deleteAttestedAgent(identity.spiffeId.toString())
  t.equal(await loop.round(), false)
  t.equal(refusals.length, 1)
  t.ok(isSigilError(refusals[0], 'ERR_NOT_AUTHORIZED'))
  t.equal(loop.health().consecutiveFailures, 1)
  t.ok(logger.entries.some((e) => e.msg === 'recovery failed'))
})

t.test('server down: ERR_UNAVAILABLE, backoff; server back on the same port: sync resumes', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  const { client } = await attestedClient(t, kit, 'loop-3')
  const port = kit.port
  await kit.stopApi()
  const err = await client.syncAuthorizedEntries().catch((e: unknown) => e)
  t.ok(isSigilError(err, 'ERR_UNAVAILABLE'), 'server stopped → ERR_UNAVAILABLE')

  let syncs = 0
  const logger = recordingLogger()
  const loop = new SyncLoop({
    connection: client,
    onState: () => {
      syncs++
    },
    intervalMs: 100,
    logger,
  })
  const stop = new AbortController()
  const running = loop.run(stop.signal)
  await until('three failures', () => loop.health().consecutiveFailures >= 3)
  t.equal(syncs, 0)
  t.match(loop.health().lastError, /failed/)
  t.ok(logger.entries.some((e) => e.level === 'warn' && e.msg === 'sync with the server failed'))

  await kit.startApi()
  t.equal(kit.port, port, 'same port')
  await until('a successful sync', () => syncs > 0)
  t.equal(loop.health().consecutiveFailures, 0)
  t.ok(logger.entries.some((e) => e.msg === 'sync with the server recovered'))
  stop.abort()
  await running
  t.pass('the loop ends when aborted')
})

t.test('backoff doubles from the interval up to min(4 min, 48 intervals)', async (t) => {
  t.equal(maxSyncBackoffMs(5_000), MAX_SYNC_BACKOFF_MS, '4 min at the 5 s default')
  t.equal(maxSyncBackoffMs(1_000), 48_000, '48 intervals for short intervals')
  const delays = [1, 2, 3, 4].map((n) => retryDelayMs(n, 5_000, maxSyncBackoffMs(5_000), 0.5))
  t.same(delays, [5_000, 10_000, 20_000, 40_000])
  t.equal(retryDelayMs(30, 5_000, maxSyncBackoffMs(5_000), 0.5), MAX_SYNC_BACKOFF_MS)
  t.ok(retryDelayMs(30, 5_000, maxSyncBackoffMs(5_000), 0.999) <= MAX_SYNC_BACKOFF_MS * 1.2, 'jitter bounded')
})
