// The Task API on the Workload API socket: the same security header rule, callers attested from
// the kernel (the process key the server gets is the real pid:start time), the per-process cap,
// and the agent ending tasks itself when the process exits or the deadline passes. The server
// side is a recording fake that enforces the one rule the agent relies on (same process key).
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { credentials, Metadata, status } from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import { TaskManager, type TaskServer } from '../../../agent/task/task-manager.js'
import { readProcessStartTime } from '../../../agent/workloadattestation/process-start-time.js'
import { SigilError } from '../../../certs/errors.js'
import type { BeginTaskRequest } from '../../../proto/generated/sigil/agent/v1/BeginTaskRequest.js'
import type { EndTaskRequest } from '../../../proto/generated/sigil/agent/v1/EndTaskRequest.js'
import type { FetchTaskJwtSvidRequest } from '../../../proto/generated/sigil/agent/v1/FetchTaskJwtSvidRequest.js'
import { loadTaskApi, protoRoot, type TasksClient } from '../../../proto/loader.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { collectingLogger, entry } from '../cache/fake-server.js'
import { md, startHarness } from '../workloadapi/harness.js'

/** A server that records what the agent forwards and owns tasks by process key. */
function fakeTaskServer(deadlineSeconds = 600) {
  const begun: BeginTaskRequest[] = []
  const fetched: FetchTaskJwtSvidRequest[] = []
  const ended: EndTaskRequest[] = []
  const owners = new Map<string, string>()
  let n = 0
  const server: TaskServer = {
    async beginTask(req) {
      begun.push(req)
      const id = `task-${++n}`
      owners.set(id, req.process_key ?? '')
      return {
        task_id: id,
        txn_token: 'txn',
        expires_at: Math.floor(Date.now() / 1000) + deadlineSeconds,
        spiffe_id: 'spiffe://example.org/web',
      }
    },
    async fetchTaskJwtSvid(req) {
      fetched.push(req)
      if (!owners.has(req.task_id ?? '')) throw new SigilError('ERR_NOT_FOUND', 'task not found')
      if (owners.get(req.task_id ?? '') !== req.process_key)
        throw new SigilError('ERR_NOT_AUTHORIZED', 'another process')
      return { token: 'jwt', spiffe_id: 'spiffe://example.org/web', expires_at: 1, issued_at: 0 }
    },
    async endTask(req) {
      if (req.process_key && owners.get(req.task_id ?? '') !== req.process_key) {
        throw new SigilError('ERR_NOT_AUTHORIZED', 'another process')
      }
      ended.push(req)
      return { outcome: req.outcome ?? '' }
    },
  }
  return { server, begun, fetched, ended }
}

async function setup(t: Test, opts: { max?: number; deadlineSeconds?: number } = {}) {
  const fake = fakeTaskServer(opts.deadlineSeconds)
  const { logger } = collectingLogger()
  const h = await startHarness(t, {
    entries: ({ uid }) => [entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`] })],
    cache: { maintenanceIntervalMs: 50 },
    tasks: (cache) =>
      new TaskManager({
        server: () => fake.server,
        processes: cache,
        logger,
        maxOpenTasksPerProcess: opts.max ?? 64,
      }),
  })
  const api = loadTaskApi()
  const client = new api.Client(`unix://${h.socketPath}`, credentials.createInsecure())
  t.teardown(() => client.close())
  return { h, fake, client }
}

function call<Res = { code?: number }>(
  client: TasksClient,
  method: 'BeginTask' | 'FetchTaskJWTSVID' | 'EndTask',
  req: object,
  meta?: Metadata,
) {
  return new Promise<Res>((resolve, reject) => {
    const fn = client[method].bind(client) as unknown as (
      r: object,
      m: Metadata,
      cb: (e: unknown, r: Res) => void,
    ) => void
    fn(req, meta ?? md(), (e, r) => (e ? reject(e) : resolve(r)))
  })
}

const myKey = () => `${process.pid}:${readProcessStartTime(process.pid)}`

t.test('same socket, same header rule; the server gets the attested entry and process', async (t) => {
  const { client, fake } = await setup(t)
  const noHeader = await call(client, 'BeginTask', { purpose: 'p', scope: ['a'] }, new Metadata()).catch(
    (e) => e,
  )
  t.equal(noHeader.code, status.INVALID_ARGUMENT)
  t.equal(fake.begun.length, 0, 'refused before the handler')
  const res = await call<{ task_id: string; txn_token: string }>(client, 'BeginTask', {
    purpose: 'p',
    scope: ['spiffe://example.org/tool'],
    ttl_seconds: 60,
  })
  t.equal(res.task_id, 'task-1')
  t.match(fake.begun[0], {
    entry_id: 'a',
    process_key: myKey(),
    purpose: 'p',
    scope: ['spiffe://example.org/tool'],
  })
  await call(client, 'FetchTaskJWTSVID', { task_id: res.task_id, audience: 'spiffe://example.org/tool' })
  t.equal(fake.fetched[0]?.process_key, myKey())
  t.same(fake.fetched[0]?.entry_ids, ['a'], "the process's current entries go along")
  const bad = await call(client, 'EndTask', { task_id: res.task_id, outcome: 'expired' }).catch((e) => e)
  t.equal(bad.code, status.INVALID_ARGUMENT, 'a process cannot claim an agent outcome')
  const unknown = await call(client, 'FetchTaskJWTSVID', { task_id: 'nope', audience: 'x' }).catch((e) => e)
  t.equal(unknown.code, status.NOT_FOUND)
  const wrongId = await call(client, 'BeginTask', {
    purpose: 'p',
    scope: ['a'],
    spiffe_id: 'spiffe://example.org/other',
  }).catch((e) => e)
  t.equal(wrongId.code, status.PERMISSION_DENIED)
  t.same(await call(client, 'EndTask', { task_id: res.task_id, outcome: 'completed' }), {
    outcome: 'completed',
  })
})

t.test('a process may hold only so many open tasks: RESOURCE_EXHAUSTED, then room again', async (t) => {
  const { client } = await setup(t, { max: 3 })
  const ids: string[] = []
  for (let i = 0; i < 3; i++)
    ids.push((await call<{ task_id: string }>(client, 'BeginTask', { purpose: 'p', scope: ['a'] })).task_id)
  const over = await call(client, 'BeginTask', { purpose: 'p', scope: ['a'] }).catch((e) => e)
  t.equal(over.code, status.RESOURCE_EXHAUSTED)
  await call(client, 'EndTask', { task_id: ids[0], outcome: 'completed' })
  t.ok((await call<{ task_id: string }>(client, 'BeginTask', { purpose: 'p', scope: ['a'] })).task_id)
})

t.test('the agent ends a task at its deadline (expired)', async (t) => {
  const { client, fake } = await setup(t, { deadlineSeconds: 1 })
  const { task_id } = await call<{ task_id: string }>(client, 'BeginTask', { purpose: 'p', scope: ['a'] })
  await waitUntil('the agent to expire the task', () => fake.ended.some((e) => e.task_id === task_id))
  t.match(fake.ended[0], { task_id, outcome: 'expired', process_key: '' })
})

t.test('the agent ends a task with process_exited when its process exits', async (t) => {
  const { h, fake } = await setup(t)
  const script = join(h.dir, 'task-child.mjs')
  await writeFile(
    script,
    `import { createRequire } from 'node:module'
const root = process.env.SIGIL_ROOT
const require = createRequire(root + '/package.json')
const grpc = require('@grpc/grpc-js')
const loader = require('@grpc/proto-loader')
const def = loader.loadSync('sigil/task/v1/task.proto', { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [root + '/proto'] })
const Client = grpc.loadPackageDefinition(def).sigil.task.v1.Tasks
const client = new Client('unix://' + process.argv[2], grpc.credentials.createInsecure())
const md = new grpc.Metadata()
md.set('workload.spiffe.io', 'true')
client.BeginTask({ purpose: 'child', scope: ['a'] }, md, (e, r) => {
  process.stdout.write(JSON.stringify(e ? { code: e.code } : { task_id: r.task_id }) + '\\n')
})
setInterval(() => {}, 1 << 30)
`,
  )
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, script, h.socketPath], {
    cwd: h.dir,
    env: { ...process.env, SIGIL_ROOT: join(protoRoot(), '..') },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout! }).once('line', resolve),
  )
  const { task_id } = JSON.parse(line) as { task_id: string }
  t.ok(task_id, 'the child began a task')
  t.equal(fake.begun[0]?.process_key, `${child.pid}:${readProcessStartTime(child.pid!)}`)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  await waitUntil('the agent to end the task of the exited process', () =>
    fake.ended.some((e) => e.task_id === task_id),
  )
  t.match(
    fake.ended.find((e) => e.task_id === task_id),
    { outcome: 'process_exited', process_key: '' },
  )
})
