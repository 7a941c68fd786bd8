// The server→agent push stream against a real in-process agent API (real SQLite, CA, TLS):
// the first message brings what the agent lacks, each revocation is pushed as it happens, a
// broken stream reconnects and catches up, and the periodic sync carries revocations too.
import t from 'tap'
import { RevocationSet } from '../../../agent/cache/revocation-set.js'
import { TaintedAuthorities } from '../../../agent/cache/tainted-authorities.js'
import type { AgentIdentity } from '../../../agent/sync/agent-identity.js'
import { AgentUpdateWatch, type UpdateConnection } from '../../../agent/sync/agent-update-watch.js'
import { ServerClient, type SyncNudge } from '../../../agent/sync/server-client.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { recordingLogger, startServerKit } from './server-kit.js'

t.test('revocations reach the agent by push, after a reconnect, and through sync', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  await kit.createJoinToken('push-token')
  await kit.revocations.revoke({ kind: 'jwt_jti', value: 'before-connect' })

  const revocations = new RevocationSet()
  const client = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
    revocations,
  })
  t.teardown(() => client.close())
  await client.attest({ type: 'join_token', token: 'push-token' })

  const logger = recordingLogger()
  const watch = new AgentUpdateWatch({ connection: client, revocations, logger, initialBackoffMs: 50 })
  const ac = new AbortController()
  const running = watch.run(ac.signal)
  t.teardown(async () => {
    ac.abort()
    await running
  })

  await waitUntil('the first pushed snapshot', () => revocations.isRevoked('jwt_jti', 'before-connect'), {
    timeoutMs: 5000,
  })
  t.equal(revocations.sequence, 1)
  t.ok(watch.health().connected)

  await kit.revocations.revoke({ kind: 'txn', value: 'task-7', reason: 'task ended' })
  await waitUntil('the pushed delta', () => revocations.isRevoked('txn', 'task-7'), { timeoutMs: 5000 })
  t.equal(revocations.sequence, 2)

  // the server goes away and comes back on the same port: the watch reconnects and catches up
  await kit.stopApi()
  await kit.revocations.revoke({ kind: 'jwt_jti', value: 'while-down' })
  await waitUntil('the watch to notice the broken stream', () => !watch.health().connected, {
    timeoutMs: 5000,
  })
  await kit.startApi()
  await waitUntil('the catch-up after reconnecting', () => revocations.isRevoked('jwt_jti', 'while-down'), {
    timeoutMs: 10_000,
  })
  t.equal(revocations.sequence, 3)

  // the fallback: a sync brings what the agent lacks, without the stream
  const other = new RevocationSet()
  const syncing = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
    revocations: other,
  })
  t.teardown(() => syncing.close())
  await kit.createJoinToken('sync-token')
  await syncing.attest({ type: 'join_token', token: 'sync-token' })
  await syncing.syncAuthorizedEntries()
  t.equal(other.sequence, 3, 'the first sync brings every revocation')
  t.ok(other.isRevoked('txn', 'task-7'))
  await kit.revocations.revoke({ kind: 'x509_serial', value: 'abcd' })
  await syncing.syncAuthorizedEntries()
  t.equal(other.sequence, 4, 'the next sync brings the delta')
  t.ok(other.isRevoked('x509_serial', 'abcd'))
})

t.test('an unauthenticated caller gets no stream', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  const client = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
  })
  t.teardown(() => client.close())
  await t.rejects(
    client.watchUpdates(new RevocationSet(), new AbortController().signal),
    TypeError,
    'no agent SVID yet: refused before any call',
  )
})

t.test('a taint is pushed (complete set, on open and on change) and a revoke clears it', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  await kit.createJoinToken('taint-token')
  const client = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
  })
  t.teardown(() => client.close())
  await client.attest({ type: 'join_token', token: 'taint-token' })
  const tainted = new TaintedAuthorities()
  const heard: number[] = []
  tainted.onChange(() => heard.push(tainted.size))
  const watch = new AgentUpdateWatch({
    connection: client,
    revocations: new RevocationSet(),
    tainted,
    logger: recordingLogger(),
    initialBackoffMs: 50,
  })
  const ac = new AbortController()
  const running = watch.run(ac.signal)
  t.teardown(async () => {
    ac.abort()
    await running
  })
  await waitUntil('the stream open', () => watch.health().connected, { timeoutMs: 5000 })
  const oldKid = kit.ca.localAuthorities('jwt').active?.authorityId ?? ''
  const next = await kit.ca.changeLocalAuthority('jwt', 'prepare')
  await kit.ca.changeLocalAuthority('jwt', 'activate', next.authorityId)
  await kit.ca.changeLocalAuthority('jwt', 'taint', oldKid)
  const token = (kid: string) => `${Buffer.from(JSON.stringify({ kid })).toString('base64url')}.e30.x`
  await waitUntil('the pushed taint', () => tainted.signedToken(token(oldKid)), { timeoutMs: 5000 })
  t.notOk(tainted.signedToken(token(next.authorityId)), 'the active key is not tainted')

  // a second agent connecting later gets the set when its stream opens
  await kit.createJoinToken('late-token')
  const late = new ServerClient({ address: kit.address, trustDomain: kit.trustDomain, bundle: kit.bundle() })
  t.teardown(() => late.close())
  await late.attest({ type: 'join_token', token: 'late-token' })
  const lateSet = new TaintedAuthorities()
  const lateWatch = new AgentUpdateWatch({
    connection: late,
    revocations: new RevocationSet(),
    tainted: lateSet,
    logger: recordingLogger(),
  })
  const ac2 = new AbortController()
  const running2 = lateWatch.run(ac2.signal)
  t.teardown(async () => {
    ac2.abort()
    await running2
  })
  await waitUntil('the taint on open', () => lateSet.signedToken(token(oldKid)), { timeoutMs: 5000 })

  await kit.ca.changeLocalAuthority('jwt', 'revoke', oldKid)
  await waitUntil('the cleared set', () => tainted.size === 0, { timeoutMs: 5000 })
  t.same(heard, [1, 0])
})

t.test('nudges pushed on the stream (entries or bundle changed) go to onSyncNudge', async (t) => {
  // The server side that sends them is not built yet: a connection that delivers two nudges.
  const nudges: SyncNudge[] = []
  const connection: UpdateConnection = {
    identity: {} as AgentIdentity,
    watchUpdates: (target, signal) => {
      target.nudge?.({ kind: 'entries_changed', entriesVersion: '42' })
      target.nudge?.({ kind: 'bundle_changed', sequenceNumber: 7 })
      return new Promise((resolve) =>
        signal.addEventListener('abort', () => resolve(undefined), { once: true }),
      )
    },
  }
  const watch = new AgentUpdateWatch({
    connection,
    revocations: new RevocationSet(),
    logger: recordingLogger(),
    onSyncNudge: (n) => nudges.push(n),
  })
  const ac = new AbortController()
  const running = watch.run(ac.signal)
  await waitUntil('two nudges', () => nudges.length === 2, { timeoutMs: 5000 })
  t.same(nudges, [
    { kind: 'entries_changed', entriesVersion: '42' },
    { kind: 'bundle_changed', sequenceNumber: 7 },
  ])
  t.ok(watch.health().connected, 'a nudge counts as the stream delivering')
  ac.abort()
  await running
})
