// Task end → revocation over real parts (SQLite datastore, CaManager, TaskService,
// RevocationList): the revocations a task's end produces, the delegation-token lookup,
// connectTaskRevocation for EndTask and `svid revoke --task-id`, and the race where EndTask
// lands between FetchTaskJwtSvid's "is the task active" check and its credential record.
import t, { type Test } from 'tap'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { CaManager } from '../../../server/ca/ca-manager.js'
import type {
  DataStore,
  RegistrationEntry,
  TaskCredential,
  TaskRecord,
} from '../../../server/datastore/datastore.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { RevocationList } from '../../../server/revocation/revocation-list.js'
import { connectTaskRevocation, revocationsForTask, revokedIn } from '../../../server/task/task-revocation.js'
import { TaskService, type TaskServiceOptions } from '../../../server/task/task-service.js'
import { entryInput } from '../api/agent/agent-api-test-kit.js'
import { FakeClock, RecordingLogger } from '../ca/ca-test-kit.js'

const TD = TrustDomain.parse('example.org')
const AGENT = 'spiffe://example.org/spire/agent/join_token/a'
const TOOL = 'spiffe://example.org/tool-api'
const P1 = '4242:1000'
const T0 = new Date('2030-05-01T00:00:00Z')

function taskRecord(over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: 'task-1',
    state: 'ended',
    outcome: 'completed',
    endReason: '',
    spiffeId: 'spiffe://example.org/planner',
    entryId: 'e1',
    agentId: AGENT,
    processKey: P1,
    subject: 'user:alice',
    purpose: 'report',
    scope: [TOOL],
    actChain: [],
    parentTxn: '',
    createdAt: T0,
    deadline: new Date(T0.getTime() + 600_000),
    ...over,
  }
}

function credential(kind: TaskCredential['kind'], value: string, expiresInMs: number): TaskCredential {
  return {
    taskId: 'task-1',
    kind,
    credential: value,
    audience: [],
    issuedAt: T0,
    expiresAt: new Date(T0.getTime() + expiresInMs),
  }
}

t.test('revocationsForTask: the txn always, each credential once, with its latest expiry', async (t) => {
  const task = taskRecord()
  const got = revocationsForTask(
    task,
    [
      credential('txn', 'task-1', 600_000),
      credential('jwt', 'jti-a', 60_000),
      credential('jwt', 'jti-a', 300_000),
      credential('jwt', 'jti-a', 120_000),
      credential('x509', '0a1b', 3_600_000),
    ],
    'task completed',
  )
  t.same(
    got.map((r) => [r.kind, r.value, r.expiresAt?.getTime(), r.reason]),
    [
      ['txn', 'task-1', T0.getTime() + 600_000, 'task completed'],
      ['jwt_jti', 'jti-a', T0.getTime() + 300_000, 'task completed'],
      ['x509_serial', '0a1b', T0.getTime() + 3_600_000, 'task completed'],
    ],
  )
  const bare = revocationsForTask(task, [], 'r')
  t.same(
    bare.map((r) => [r.kind, r.value, r.expiresAt]),
    [['txn', 'task-1', task.deadline]],
    'a task with nothing recorded still has its Txn-Token revoked',
  )
})

async function fixture(t: Test, wrap?: (ds: DataStore) => TaskServiceOptions['datastore']) {
  const dir = t.testdir()
  const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000)
  const logger = new RecordingLogger()
  const ds = await openDataStore({ kind: 'sqlite', path: `${dir}/datastore.sqlite3` }, { clock: clock.now })
  t.teardown(() => ds.close())
  const ca = new CaManager({
    trustDomain: TD,
    dataDir: dir,
    caTtlSeconds: 86_400,
    caKeyType: 'ec-p256',
    jwtKeyType: 'ec-p256',
    bundleStore: ds,
    refreshHintSeconds: 60,
    clock: clock.now,
    logger,
  })
  await ca.init()
  const revocations = await RevocationList.load({
    datastore: ds,
    clock: clock.now,
    logger,
    unknownCredentialTtlMs: 86_400_000,
  })
  const tasks = new TaskService({
    trustDomain: TD,
    ca,
    datastore: wrap ? wrap(ds) : ds,
    logger,
    clock: clock.now,
    defaultJwtSvidTtlSeconds: 300,
    isRevoked: revokedIn(revocations),
  })
  const revokeTask = connectTaskRevocation(tasks, revocations, ds)
  const entry = await ds.createEntry(
    entryInput({
      spiffeId: 'spiffe://example.org/planner',
      parentId: AGENT,
      taskScopes: [TOOL],
      maxTaskTtl: 600,
    }),
  )
  const caller = { agentId: AGENT, processKey: P1 }
  const begin = () =>
    tasks.begin(caller, {
      entry,
      purpose: 'report',
      scope: [TOOL],
      ttlSeconds: 120,
      onBehalfOf: '',
      parentTxnToken: '',
    })
  const fetchJwt = (taskId: string) =>
    tasks.fetchJwtSvid(caller, taskId, TOOL, [entry.id], async (): Promise<RegistrationEntry> => entry)
  return { ds, ca, clock, logger, revocations, tasks, revokeTask, entry, caller, begin, fetchJwt }
}

t.test('revokedIn reads jti and txn revocations from the list', async (t) => {
  const { revocations } = await fixture(t)
  const isRevoked = revokedIn(revocations)
  t.equal(isRevoked({ jti: 'j1' }), false)
  await revocations.revoke([
    { kind: 'jwt_jti', value: 'j1', reason: 'leak' },
    { kind: 'txn', value: 't1', reason: 'ended' },
  ])
  t.equal(isRevoked({ jti: 'j1' }), true)
  t.equal(isRevoked({ txn: 't1' }), true)
  t.equal(isRevoked({ jti: 'j2', txn: 't2' }), false)
  t.equal(isRevoked({ jti: 't1' }), false, 'a txn value is not a jti')
  t.equal(isRevoked({}), false)
})

t.test('ending a task revokes its txn and every JWT-SVID issued for it', async (t) => {
  const { revocations, tasks, begin, fetchJwt, caller } = await fixture(t)
  const { task } = await begin()
  const a = await fetchJwt(task.id)
  const b = await fetchJwt(task.id)
  t.equal(revocations.isRevoked('txn', task.id), false)
  await tasks.end(caller, task.id, 'completed', '')
  t.equal(revocations.isRevoked('txn', task.id), true)
  t.equal(revocations.isRevoked('jwt_jti', a.jti), true)
  t.equal(revocations.isRevoked('jwt_jti', b.jti), true)
  t.same(revocations.get('jwt_jti', a.jti)?.expiresAt, a.expiresAt, 'kept until the JWT-SVID expires')
  t.match(revocations.get('txn', task.id)?.reason, /^task completed/)
  await t.rejects(fetchJwt(task.id), { code: 'ERR_TASK_ENDED' })
})

t.test(
  'svid revoke --task-id: ends an active task, re-revokes an ended one, refuses an unknown one',
  async (t) => {
    const { ds, revocations, revokeTask, begin, fetchJwt } = await fixture(t)
    const { task } = await begin()
    const jwt = await fetchJwt(task.id)
    const { revoked } = await revokeTask(task.id, 'leaked')
    t.equal((await ds.getTask(task.id))?.outcome, 'cancelled')
    t.same(revoked.map((r) => r.kind).sort(), ['jwt_jti', 'txn'])
    t.equal(revocations.isRevoked('jwt_jti', jwt.jti), true)
    const again = await revokeTask(task.id, 'again')
    t.equal(again.revoked.length, 2, 'an ended task has its credentials revoked again (harmless)')
    await t.rejects(revokeTask('no-such-task', ''), { code: 'ERR_NOT_FOUND' })
  },
)

t.test(
  'EndTask between the active check and the record: the new JWT-SVID is revoked and withheld',
  async (t) => {
    // The datastore pauses the JWT-SVID's credential record until EndTask has finished, which
    // reproduces the interleaving deterministically.
    let endFirst: (() => Promise<unknown>) | undefined
    const fx = await fixture(
      t,
      (inner) =>
        new Proxy(inner, {
          get(target, prop, receiver) {
            if (prop === 'recordTaskCredential') {
              return async (c: TaskCredential) => {
                const run = c.kind === 'jwt' ? endFirst : undefined
                endFirst = undefined
                if (run) await run()
                return target.recordTaskCredential(c)
              }
            }
            const v = Reflect.get(target, prop, receiver)
            return typeof v === 'function' ? v.bind(target) : v
          },
        }),
    )
    const { ds, revocations, begin, fetchJwt, logger } = fx
    const { task } = await begin()
    const before = await fetchJwt(task.id)
    endFirst = () => fx.tasks.end(fx.caller, task.id, 'completed', '')
    await t.rejects(fetchJwt(task.id), { code: 'ERR_TASK_ENDED' })
    const jwts = (await ds.listTaskCredentials(task.id)).filter((c) => c.kind === 'jwt')
    t.equal(jwts.length, 2, 'the late JWT-SVID was recorded')
    for (const c of jwts)
      t.equal(revocations.isRevoked('jwt_jti', c.credential), true, `${c.credential} revoked`)
    t.ok(jwts.some((c) => c.credential === before.jti))
    const events = await ds.listTaskEvents(task.id)
    t.ok(
      events.some((e) => e.event === 'jwt_refused' && /ended while/.test(e.detail)),
      'the refusal is recorded',
    )
    t.ok(logger.entries.some((l) => l.msg === 'task request refused'))
  },
)
