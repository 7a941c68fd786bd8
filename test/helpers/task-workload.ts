// A real workload process that uses tasks through the SDK (dist/sdk) on an agent socket: it
// reads one JSON request per stdin line ({ id, op, ... }) and prints one JSON answer per line
// ({ id, ok: true, ... } or { id, ok: false, code, message }). Ops: begin (Task.begin options),
// jwt { taskId, audience }, plainJwt { audience } (a Workload API FetchJWTSVID, outside any
// task), end { taskId, outcome } (through the Task it began), endRaw
// { taskId, outcome } and jwtRaw { taskId, audience } (bare calls, for tasks of other processes),
// flood { count, concurrency, request } (many bare BeginTask calls on one connection; answers the
// count per gRPC status).
import { type ScriptAnswer, type ScriptWorkload, startScriptWorkload } from './script-workload.js'

const SCRIPT = `import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
const [root, socket] = process.argv.slice(2)
const grpc = createRequire(root + '/package.json')('@grpc/grpc-js')
const sdk = await import(pathToFileURL(root + '/dist/sdk/index.js').href)
const { loadTaskApi } = await import(pathToFileURL(root + '/dist/proto/loader.js').href)
const raw = new (loadTaskApi().Client)('unix:' + socket, grpc.credentials.createInsecure())
const tasks = new Map()
const print = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
async function handle(req) {
  if (req.op === 'begin') {
    const task = await sdk.Task.begin({ ...req.options, socketPath: socket })
    tasks.set(task.id, task)
    return { taskId: task.id, txnToken: task.txnToken, expiresAt: task.expiresAt.getTime(), spiffeId: String(task.spiffeId) }
  }
  if (req.op === 'jwt') return { token: await tasks.get(req.taskId).jwtFor(req.audience) }
  if (req.op === 'plainJwt') {
    const client = new sdk.WorkloadApiClient({ socketPath: socket })
    try {
      return { token: (await client.fetchJwtSvid({ audience: [req.audience] })).token }
    } finally {
      client.close()
    }
  }
  if (req.op === 'end') {
    await tasks.get(req.taskId).end(req.outcome)
    return {}
  }
  if (req.op === 'endRaw' || req.op === 'jwtRaw') {
    const md = new grpc.Metadata()
    md.set('workload.spiffe.io', 'true')
    const [method, body] = req.op === 'endRaw'
      ? ['EndTask', { task_id: req.taskId, outcome: req.outcome }]
      : ['FetchTaskJWTSVID', { task_id: req.taskId, audience: req.audience }]
    return new Promise((resolve, reject) => raw[method](body, md, (e, r) => (e ? reject(e) : resolve(r))))
  }
  if (req.op === 'flood') {
    const codes = {}
    let next = 0
    const one = async () => {
      while (next < req.count) {
        next++
        const md = new grpc.Metadata()
        md.set('workload.spiffe.io', 'true')
        const code = await new Promise((resolve) => raw.BeginTask(req.request, md, (e) => resolve(e ? e.code : 0)))
        codes[code] = (codes[code] ?? 0) + 1
      }
    }
    await Promise.all(Array.from({ length: req.concurrency ?? 16 }, one))
    return { codes }
  }
  throw new Error('unknown op ' + req.op)
}
print({ ready: true, pid: process.pid })
createInterface({ input: process.stdin })
  .on('line', (line) => {
    const req = JSON.parse(line)
    handle(req).then(
      (r) => print({ id: req.id, ok: true, ...r }),
      (e) => print({ id: req.id, ok: false, code: e.code, message: String(e.message) }),
    )
  })
  .on('close', () => process.exit(0))
`

/** One answer of the task workload. */
export type TaskAnswer = ScriptAnswer

/** A running task workload. */
export type TaskWorkload = ScriptWorkload

/** Writes the script (0644) into `dir` and starts it (as `uid`/`gid` when given); stopped at teardown. */
export function startTaskWorkload(
  t: { teardown(fn: () => unknown): void },
  opts: { dir: string; socketPath: string; uid?: number; gid?: number },
): Promise<TaskWorkload> {
  return startScriptWorkload(t, { ...opts, name: 'task-workload.mjs', source: SCRIPT })
}
