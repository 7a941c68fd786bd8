// Tasks end to end (issue 13) with the real sigil-server and sigil-agent processes and real
// workload processes using the SDK: begin → task JWT-SVID → validate (agent and SDK verifier) →
// end; scope and TTL refusals; EndTask from another process refused; process exit ends the task;
// a server restart keeps the task.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { JWTSource } from '../../sdk/jwt-source.js'
import { RevocationFeed } from '../../sdk/revocation-feed.js'
import { verifyTaskRequest } from '../../sdk/verify-task-request.js'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { freePort, startSigilNode } from '../helpers/agent-process.js'
import { startServerProcess } from '../helpers/server-process.js'
import { startTaskWorkload } from '../helpers/task-workload.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'
const WORKER = `${TD}/worker`
const TOOL = `${TD}/tool-api`
const uid = process.getuid?.() ?? 0

const port = await freePort()
const serverArgs = ['--agent-api-address', `127.0.0.1:${port}`]
const node = await startSigilNode(t, { serverArgs })
await node.createEntry(WORKER, [`unix:uid:${uid}`], ['--task-scope', TOOL, '--max-task-ttl', '2m'])
const socketPath = node.agent.socketPath
let server = node.server

async function showTask(id: string): Promise<Record<string, unknown>> {
  const r = await server.cli('task', 'show', '--task-id', id, '--output', 'json')
  if (r.code !== 0) throw new Error(`task show failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

const stateOf = async (id: string) => (await showTask(id)).task as { state: string; outcome: string }

t.test('begin → task JWT-SVID → validated by the agent and the SDK verifier → end', async (t) => {
  const w = await startTaskWorkload(t, { dir: node.dir, socketPath })
  const begun = await w.request('begin', { options: { purpose: 'e2e', scope: [TOOL], ttl: 60 } })
  t.ok(begun.ok, String(begun.message))
  const taskId = String(begun.taskId)
  t.equal(begun.spiffeId, WORKER)
  const jwt = await w.request('jwt', { taskId, audience: TOOL })
  t.ok(jwt.ok, String(jwt.message))
  const token = String(jwt.token)

  const client = new WorkloadApiClient({ socketPath })
  t.teardown(() => client.close())
  const byAgent = await client.validateJwtSvid(token, TOOL)
  t.equal(byAgent.spiffeId.toString(), WORKER, "the agent's ValidateJWTSVID accepts it")
  t.equal(byAgent.claims.txn, taskId)

  const source = await JWTSource.create({ socketPath })
  t.teardown(() => source.close())
  const verified = await verifyTaskRequest(
    { authorization: `Bearer ${token}`, 'txn-token': String(begun.txnToken) },
    { audience: TOOL, bundles: source },
  )
  t.equal(verified.task.id, taskId)
  t.equal(verified.task.subject, WORKER)
  t.same(verified.scope, [TOOL])

  const list = JSON.parse((await server.cli('task', 'list', '--state', 'active', '--output', 'json')).stdout)
  t.ok(
    list.tasks.some((x: { task_id: string }) => x.task_id === taskId),
    'task list shows it active',
  )
  const ended = await w.request('end', { taskId, outcome: 'completed' })
  t.ok(ended.ok, String(ended.message))
  const shown = await showTask(taskId)
  t.match(shown.task, { state: 'ended', outcome: 'completed', spiffe_id: WORKER })
  t.same(
    (shown.credentials as { kind: string }[]).map((c) => c.kind).sort(),
    ['jwt', 'txn'],
    'the Txn-Token and the JWT-SVID are recorded with the task',
  )
  const after = await w.request('jwt', { taskId, audience: TOOL })
  t.match(
    after,
    { ok: false, code: 'ERR_TASK_ENDED' },
    `no credential after the end: ${JSON.stringify(after)}`,
  )
})

t.test(
  'no credential survives its task: after EndTask the agent and the SDK refuse its tokens within 1 s',
  async (t) => {
    const w = await startTaskWorkload(t, { dir: node.dir, socketPath })
    const begun = await w.request('begin', { options: { purpose: 'replay', scope: [TOOL], ttl: 60 } })
    t.ok(begun.ok, String(begun.message))
    const taskId = String(begun.taskId)
    const jwt = await w.request('jwt', { taskId, audience: TOOL })
    t.ok(jwt.ok, String(jwt.message))
    const headers = { authorization: `Bearer ${String(jwt.token)}`, 'txn-token': String(begun.txnToken) }

    const client = new WorkloadApiClient({ socketPath })
    t.teardown(() => client.close())
    const source = await JWTSource.create({ socketPath })
    t.teardown(() => source.close())
    const feed = await RevocationFeed.create({
      url: server.bundleEndpointUrl,
      profile: { type: 'https_web', ca: readFileSync(join(server.dataDir, 'bundle-endpoint', 'dev-ca.pem')) },
      pollIntervalMs: 50,
    })
    t.teardown(() => feed.close())
    const verify = () =>
      verifyTaskRequest(headers, { audience: TOOL, bundles: source, isRevoked: (q) => feed.isRevoked(q) })
    t.equal((await verify()).task.id, taskId, 'accepted while the task runs')
    t.equal((await client.validateJwtSvid(String(jwt.token), TOOL)).claims.txn, taskId)

    const ended = await w.request('end', { taskId, outcome: 'completed' })
    t.ok(ended.ok, String(ended.message))
    const returnedAt = Date.now()
    await waitUntil(
      "the agent's ValidateJWTSVID refuses the replayed task JWT-SVID (deadline: 1 s after EndTask)",
      async () => {
        try {
          await client.validateJwtSvid(String(jwt.token), TOOL)
          return false
        } catch (e) {
          return /revoked/.test(String((e as Error).message))
        }
      },
      { timeoutMs: 1_000, intervalMs: 10 },
    )
    t.comment(`the agent refused the replay ${Date.now() - returnedAt} ms after EndTask returned`)
    await waitUntil(
      'verifyTaskRequest with the bundle endpoint feed refuses the replay (deadline: 1 s after EndTask)',
      async () => {
        try {
          await verify()
          return false
        } catch (e) {
          return /revoked/.test(String((e as Error).message))
        }
      },
      { timeoutMs: 1_000, intervalMs: 10 },
    )
    t.comment(`the SDK verifier refused the replay ${Date.now() - returnedAt} ms after EndTask returned`)
    const list = JSON.parse((await server.cli('revocation', 'list', '--output', 'json')).stdout)
    const kinds = (list.revocations as { kind: string; value: string }[])
      .filter((r) => r.value === taskId || r.value === String(jwt.jti ?? ''))
      .map((r) => r.kind)
    t.ok(kinds.includes('txn'), `the task's txn is on the revocation list: ${JSON.stringify(kinds)}`)
  },
)

t.test('scope and TTL refusals', async (t) => {
  const w = await startTaskWorkload(t, { dir: node.dir, socketPath })
  const outside = await w.request('begin', {
    options: { purpose: 'x', scope: [TOOL, `${TD}/admin`], ttl: 60 },
  })
  t.match(outside, { ok: false, code: 'ERR_NOT_AUTHORIZED' })
  t.match(outside.message, /outside the entry's task scopes/)
  const tooLong = await w.request('begin', { options: { purpose: 'x', scope: [TOOL], ttl: 3600 } })
  t.match(tooLong, { ok: false, code: 'ERR_INVALID_ARGUMENT' })
  t.match(tooLong.message, /above the entry's max task TTL/)
  const begun = await w.request('begin', { options: { purpose: 'x', scope: [TOOL], ttl: 60 } })
  const escalate = await w.request('jwt', { taskId: begun.taskId, audience: `${TD}/admin` })
  t.match(escalate, { ok: false, code: 'ERR_NOT_AUTHORIZED' }, 'no task JWT-SVID outside the scope')
  t.match((await showTask(String(begun.taskId))).events, [{ event: 'begun' }, { event: 'jwt_refused' }])
})

t.test('EndTask from another process is refused; process exit ends the task', async (t) => {
  const owner = await startTaskWorkload(t, { dir: node.dir, socketPath })
  const other = await startTaskWorkload(t, { dir: node.dir, socketPath })
  const begun = await owner.request('begin', { options: { purpose: 'owned', scope: [TOOL], ttl: 60 } })
  const taskId = String(begun.taskId)
  const stolen = await other.request('endRaw', { taskId, outcome: 'completed' })
  t.match(stolen, { ok: false, code: 7 }, 'PERMISSION_DENIED')
  t.equal((await stateOf(taskId)).state, 'active', 'the task is still active')
  await owner.kill()
  await waitUntil(
    'the task of the killed process to end',
    async () => (await stateOf(taskId)).state === 'ended',
  )
  t.equal((await stateOf(taskId)).outcome, 'process_exited')
})

t.test('a server restart keeps the task', async (t) => {
  const w = await startTaskWorkload(t, { dir: node.dir, socketPath })
  const begun = await w.request('begin', { options: { purpose: 'durable', scope: [TOOL], ttl: 90 } })
  const taskId = String(begun.taskId)
  await server.stop()
  server = await startServerProcess(node.server.dataDir, serverArgs)
  t.teardown(() => server.stop())
  t.equal((await stateOf(taskId)).state, 'active', 'the task survived the restart')
  await waitUntil(
    'a task JWT-SVID once the agent reconnects',
    async () => (await w.request('jwt', { taskId, audience: TOOL })).ok,
    { timeoutMs: 30_000, intervalMs: 250 },
  )
  t.ok((await w.request('end', { taskId, outcome: 'completed' })).ok)
  t.equal((await stateOf(taskId)).outcome, 'completed')
})
