// The server's revocation list over a real SQLite datastore: expiry from the issuance
// record, revoke-by-SPIFFE-ID, subscribers, pruning, and a restart that keeps everything.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import {
  normalizeSerial,
  type RevocationChange,
  RevocationList,
} from '../../../server/revocation/revocation-list.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { FakeClock, RecordingLogger } from '../ca/ca-test-kit.js'

const TD = 'spiffe://example.org'
const HOUR = 3_600_000

async function fixture(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-revocation-'))
  const clock = new FakeClock(new Date('2030-05-01T00:00:00Z'))
  const path = join(dir, 'datastore.sqlite3')
  const datastore = await openDataStore({ kind: 'sqlite', path }, { clock: clock.now })
  const logger = new RecordingLogger()
  const open = () =>
    RevocationList.load({ datastore, clock: clock.now, logger, unknownCredentialTtlMs: 24 * HOUR })
  t.teardown(async () => {
    await datastore.close()
    await rm(dir, { recursive: true, force: true })
  })
  const now = clock.now()
  await datastore.recordIssuedSvids([
    issued('x509', '0a1b2c', `${TD}/web`, now, 1),
    issued('jwt', 'jti-web-1', `${TD}/web`, now, 0.1),
    issued('jwt', 'jti-web-old', `${TD}/web`, new Date(now.getTime() - 2 * HOUR), 1),
    issued('x509', 'ffee', `${TD}/db`, now, 1),
  ])
  return { dir, path, clock, datastore, logger, open }
}

function issued(kind: 'x509' | 'jwt', serialOrJti: string, spiffeId: string, issuedAt: Date, hours: number) {
  return {
    kind,
    serialOrJti,
    spiffeId,
    entryId: 'e1',
    agentId: `${TD}/agent`,
    notBefore: issuedAt,
    notAfter: new Date(issuedAt.getTime() + hours * HOUR),
    audience: [],
    issuedAt,
  }
}

t.test('normalizeSerial accepts the spellings operators copy and refuses the rest', async (t) => {
  t.equal(normalizeSerial('0A:1B:2C'), '0a1b2c')
  t.equal(normalizeSerial('0x000a1b2c'), '0a1b2c')
  t.equal(normalizeSerial('A1B2C'), '0a1b2c')
  t.equal(normalizeSerial('00'), '00')
  t.throws(() => normalizeSerial('xyz'), { code: 'ERR_INVALID_ARGUMENT' })
  t.throws(() => normalizeSerial(''), { code: 'ERR_INVALID_ARGUMENT' })
})

t.test(
  'revoke: expiry from the issuance record, a safe bound otherwise; subscribers hear each change',
  async (t) => {
    const f = await fixture(t)
    const list = await f.open()
    const changes: RevocationChange[] = []
    const stop = list.subscribe((c) => changes.push(c))
    t.equal(list.sequence, 0)

    t.equal(await list.revoke({ kind: 'x509_serial', value: '0A:1B:2C', reason: 'leaked' }), 1)
    t.ok(list.isRevoked('x509_serial', '0a1b2c'), 'stored under the canonical serial')
    t.same(
      list.get('x509_serial', '0a1b2c')?.expiresAt,
      new Date(f.clock.ms + HOUR),
      'kept until the SVID expires',
    )

    t.equal(
      await list.revoke({ kind: 'x509_serial', value: 'dead' }),
      2,
      'a serial nobody issued is accepted',
    )
    t.same(
      list.get('x509_serial', 'dead')?.expiresAt,
      new Date(f.clock.ms + 24 * HOUR),
      'with the safe bound',
    )

    t.equal(await list.revoke({ kind: 'jwt_jti', value: 'jti-web-1' }), 3)
    t.equal(await list.revoke({ kind: 'jwt_jti', value: 'jti-web-1' }), 3, 'revoking again changes nothing')
    const txnExpiry = new Date(f.clock.ms + 600_000)
    t.equal(
      await list.revoke({ kind: 'txn', value: 'task-1', expiresAt: txnExpiry, reason: 'task ended' }),
      4,
    )
    t.same(
      changes.map((c) => [c.sequence, c.added.map((r) => r.value)]),
      [
        [1, ['0a1b2c']],
        [2, ['dead']],
        [3, ['jti-web-1']],
        [4, ['task-1']],
      ],
    )
    t.same(
      list.since(2).map((r) => r.value),
      ['jti-web-1', 'task-1'],
    )
    await t.rejects(list.revoke({ kind: 'jwt_jti', value: '' }), { code: 'ERR_INVALID_ARGUMENT' })
    await t.rejects(list.revoke({ kind: 'jwt_jti', value: 'x'.repeat(300) }), {
      code: 'ERR_INVALID_ARGUMENT',
    })
    await t.rejects(list.revoke({ kind: 'x509_serial', value: 'not-hex' }), { code: 'ERR_INVALID_ARGUMENT' })
    t.equal(list.sequence, 4, 'refused requests change nothing')
    stop()
    await list.revoke({ kind: 'txn', value: 'task-2' })
    t.equal(changes.length, 4, 'unsubscribed')
  },
)

t.test('revokeSpiffeId revokes every live SVID of the ID and nothing else', async (t) => {
  const f = await fixture(t)
  const list = await f.open()
  const { sequence, revoked } = await list.revokeSpiffeId(`${TD}/web`, 'compromised')
  t.equal(sequence, 2)
  t.same(revoked.map((r) => [r.kind, r.value]).sort(), [
    ['jwt_jti', 'jti-web-1'],
    ['x509_serial', '0a1b2c'],
  ])
  t.notOk(list.isRevoked('jwt_jti', 'jti-web-old'), 'an expired SVID needs no revocation')
  t.notOk(list.isRevoked('x509_serial', 'ffee'), 'another ID is untouched')
  t.same(await list.revokeSpiffeId(`${TD}/nobody`), { sequence: 2, revoked: [] })
})

t.test('a restart keeps revocations; pruning drops expired ones and keeps the sequence', async (t) => {
  const f = await fixture(t)
  const first = await f.open()
  await first.revoke({ kind: 'jwt_jti', value: 'jti-web-1' }) // 6 min
  await first.revoke({ kind: 'x509_serial', value: '0a1b2c' }) // 1 h
  const second = await f.open()
  t.equal(second.sequence, 2)
  t.ok(second.isRevoked('jwt_jti', 'jti-web-1'))
  t.ok(second.isRevoked('x509_serial', '0a1b2c'))

  f.clock.advance(0.5 * HOUR)
  t.notOk(second.isRevoked('jwt_jti', 'jti-web-1'), 'an expired revocation no longer counts')
  t.equal(await second.prune(), 1)
  t.equal(second.size, 1)
  t.same(
    (await f.datastore.listRevocations()).map((r) => r.value),
    ['0a1b2c'],
  )
  t.equal(second.sequence, 2)
  t.equal(await second.revoke({ kind: 'txn', value: 't' }), 3)
})

t.test('run() prunes on a loop until aborted', async (t) => {
  const f = await fixture(t)
  const list = await RevocationList.load({
    datastore: f.datastore,
    clock: f.clock.now,
    logger: f.logger,
    unknownCredentialTtlMs: HOUR,
    pruneIntervalMs: 10,
  })
  await list.revoke({ kind: 'txn', value: 'short', expiresAt: new Date(f.clock.ms + 1000) })
  f.clock.advance(2000)
  const ac = new AbortController()
  const done = list.run(ac.signal)
  await waitUntil('the prune loop to drop the expired revocation', () => list.size === 0, { timeoutMs: 5000 })
  ac.abort()
  await done
  t.equal(list.size, 0, 'the loop pruned the expired revocation')
})

// Two servers on one datastore (issue 15): each holds its own list; what one revokes the other
// takes in with refresh() (the change feed calls it) and announces to its own subscribers, and a
// revoke that finds numbers taken by the other server in between reads those too.
t.test(
  'two lists on one datastore: refresh() takes in the other server’s revocations, in order',
  async (t) => {
    const { path, clock, datastore, logger } = await fixture(t)
    const other = await openDataStore({ kind: 'sqlite', path }, { clock: clock.now })
    t.teardown(() => other.close())
    const listA = await RevocationList.load({
      datastore,
      clock: clock.now,
      logger,
      unknownCredentialTtlMs: HOUR,
    })
    const listB = await RevocationList.load({
      datastore: other,
      clock: clock.now,
      logger,
      unknownCredentialTtlMs: HOUR,
    })
    const heardByB: RevocationChange[] = []
    listB.subscribe((c) => heardByB.push(c))

    await listA.revoke({ kind: 'jwt_jti', value: 'from-a-1' })
    t.notOk(listB.isRevoked('jwt_jti', 'from-a-1'), 'B does not know before it refreshes')
    t.equal(await listB.refresh(), 1, 'one new record')
    t.ok(listB.isRevoked('jwt_jti', 'from-a-1'))
    t.same(
      heardByB.flatMap((c) => c.added.map((r) => r.value)),
      ['from-a-1'],
      'B’s subscribers (its agents’ push streams) hear it',
    )
    t.equal(await listB.refresh(), 0, 'a second refresh finds nothing new')

    // A takes 2, then B revokes: B's own call sees the gap and reads A's record too
    await listA.revoke({ kind: 'jwt_jti', value: 'from-a-2' })
    const seq = await listB.revoke({ kind: 'txn', value: 'from-b' })
    t.equal(seq, 3)
    t.ok(listB.isRevoked('jwt_jti', 'from-a-2'), 'the record taken in between is held')
    t.same(
      listB.snapshot().map((r) => [r.sequence, r.value]),
      [
        [1, 'from-a-1'],
        [2, 'from-a-2'],
        [3, 'from-b'],
      ],
      'ascending sequence, nothing missed',
    )
    t.same(
      heardByB.flatMap((c) => c.added.map((r) => r.sequence)),
      [1, 2, 3],
      'subscribers heard every sequence once, in order',
    )
    await listA.refresh()
    t.equal(listA.sequence, 3)
    t.ok(listA.isRevoked('txn', 'from-b'))
  },
)
