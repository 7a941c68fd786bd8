// A real Workload API on a real Unix socket in a temp dir: the identity cache over a fake server
// that really signs (test CA), REAL workload attestation (SO_PEERCRED + /proc), grpc-js clients
// made with our loader, and child `node` processes that are Workload API clients themselves.
import { type ChildProcess, spawn } from 'node:child_process'
import { chmod, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { type ClientReadableStream, credentials, Metadata, type ServiceError } from '@grpc/grpc-js'
import type t from 'tap'
import type { AuthorizedEntry } from '../../../agent/cache/authorized-state.js'
import {
  WorkloadIdentityCache,
  type WorkloadIdentityCacheOptions,
} from '../../../agent/cache/workload-identity-cache.js'
import { pidfdIsAlive } from '../../../agent/peercred/peer-credentials.js'
import {
  startWorkloadApiServer,
  type WorkloadApiServerConfig,
} from '../../../agent/workloadapi/workload-api-server.js'
import { WorkloadAttestor } from '../../../agent/workloadattestation/workload-attestor.js'
import type { JWTSVIDRequest } from '../../../proto/generated/JWTSVIDRequest.js'
import type { JWTSVIDResponse__Output } from '../../../proto/generated/JWTSVIDResponse.js'
import type { ValidateJWTSVIDRequest } from '../../../proto/generated/ValidateJWTSVIDRequest.js'
import type { ValidateJWTSVIDResponse__Output } from '../../../proto/generated/ValidateJWTSVIDResponse.js'
import { loadWorkloadApi, protoRoot, type SpiffeWorkloadAPIClient } from '../../../proto/loader.js'
import { collectingLogger, createFakeServer } from '../cache/fake-server.js'

/** A child Workload API client: streams FetchX509SVID and prints each message as a JSON line. */
const CHILD_SOURCE = `import { createRequire } from 'node:module'
const root = process.env.SIGIL_ROOT
const require = createRequire(root + '/package.json')
const grpc = require('@grpc/grpc-js')
const loader = require('@grpc/proto-loader')
const def = loader.loadSync('spiffe/workload/workload.proto', {
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [root + '/proto'],
})
const Client = grpc.loadPackageDefinition(def).SpiffeWorkloadAPI
const client = new Client('unix://' + process.argv[2], grpc.credentials.createInsecure())
const md = new grpc.Metadata()
md.set('workload.spiffe.io', 'true')
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
const call = client.FetchX509SVID({}, md)
call.on('data', (r) => out({ svids: r.svids.map((s) => ({
  spiffe_id: s.spiffe_id,
  x509_svid: s.x509_svid.toString('base64'),
  key: s.x509_svid_key.toString('base64'),
  bundle: s.bundle.toString('base64'),
})) }))
call.on('error', (e) => out({ code: e.code, details: e.details }))
setInterval(() => {}, 1 << 30)
`

/** One line a child printed. */
export interface ChildMessage {
  svids?: { spiffe_id: string; x509_svid: string; key: string; bundle: string }[]
  code?: number
  details?: string
}

/** A running child client. */
export interface ChildClient {
  readonly process: ChildProcess
  /** The next message it printed (FIFO). */
  next(): Promise<ChildMessage>
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>
}

export interface HarnessOptions {
  entries?: (h: { dir: string; uid: number }) => AuthorizedEntry[]
  cache?: Partial<WorkloadIdentityCacheOptions>
  server?: Partial<WorkloadApiServerConfig>
  /** Serve the Task API too, from a manager over the harness's cache. */
  tasks?: (cache: WorkloadIdentityCache) => NonNullable<WorkloadApiServerConfig['tasks']>
}

/** Starts everything; torn down with the test. */
export async function startHarness(test: Pick<typeof t, 'teardown'>, opts: HarnessOptions = {}) {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'sigil-workloadapi-')))
  await chmod(dir, 0o755)
  for (const name of ['a.mjs', 'b.mjs']) await writeFile(join(dir, name), `// ${name}\n${CHILD_SOURCE}`)
  const uid = process.getuid?.() ?? 0
  const server = await createFakeServer()
  const { logger, lines } = collectingLogger()
  const cache = new WorkloadIdentityCache({
    issuer: server.issuer,
    logger,
    retryInitialMs: 100,
    retryMaxMs: 300,
    ...opts.cache,
  })
  cache.update(server.state(opts.entries?.({ dir, uid }) ?? []))
  const socketPath = join(dir, 'public', 'api.sock')
  const api = await startWorkloadApiServer({
    socketPath,
    cache,
    attestor: new WorkloadAttestor({ pidfdIsAlive }),
    trustDomain: 'example.org',
    logger,
    ...(opts.tasks ? { tasks: opts.tasks(cache) } : {}),
    ...opts.server,
  })
  const api2 = loadWorkloadApi()
  const clients: SpiffeWorkloadAPIClient[] = []
  const children: ChildProcess[] = []
  test.teardown(async () => {
    for (const c of clients) c.close()
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await api.close()
    cache.close()
    await rm(dir, { recursive: true, force: true })
  })

  return {
    dir,
    uid,
    server,
    cache,
    api,
    lines,
    socketPath,
    /** A new grpc-js client (its own connection). */
    client(): SpiffeWorkloadAPIClient {
      const c = new api2.Client(`unix://${socketPath}`, credentials.createInsecure())
      clients.push(c)
      return c
    },
    /** A new grpc-js client for another socket. */
    client2(path: string): SpiffeWorkloadAPIClient {
      const c = new api2.Client(`unix://${path}`, credentials.createInsecure())
      clients.push(c)
      return c
    },
    /** Spawns `node <script> <socket>` in `dir` (a relative script is resolved there). */
    spawnChild(script: string): ChildClient {
      // Through `env -u NODE_OPTIONS` (which execs node in place): tap preloads its hooks into
      // every child through NODE_OPTIONS, and preloaded code withholds proc:script.
      const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, script, socketPath], {
        cwd: dir,
        env: { ...process.env, SIGIL_ROOT: join(protoRoot(), '..') },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      children.push(child)
      const queue: ChildMessage[] = []
      const waiters: ((m: ChildMessage) => void)[] = []
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = JSON.parse(line) as ChildMessage
        const w = waiters.shift()
        if (w) w(m)
        else queue.push(m)
      })
      child.once('exit', (code, signal) => {
        for (const w of waiters.splice(0)) w({ code: -1, details: `child exited (${code ?? signal})` })
      })
      return {
        process: child,
        next: () => {
          const m = queue.shift()
          return m ? Promise.resolve(m) : new Promise((resolve) => waiters.push(resolve))
        },
        kill: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return
          const exited = new Promise((resolve) => child.once('exit', resolve))
          child.kill('SIGKILL')
          await exited
        },
      }
    },
  }
}

/** Metadata with the security header. */
export function md(): Metadata {
  const m = new Metadata()
  m.set('workload.spiffe.io', 'true')
  return m
}

/** The first message of a stream, or its error. */
export function firstMessage<T>(stream: ClientReadableStream<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    stream.once('data', resolve)
    stream.once('error', reject)
  })
}

/** Collects a stream's messages; `next()` gives them in order. */
export function collect<T>(stream: ClientReadableStream<T>) {
  const queue: T[] = []
  const waiters: { resolve: (v: T) => void; reject: (e: unknown) => void }[] = []
  let error: ServiceError | undefined
  stream.on('data', (m: T) => {
    const w = waiters.shift()
    if (w) w.resolve(m)
    else queue.push(m)
  })
  stream.on('error', (e: ServiceError) => {
    error = e
    for (const w of waiters.splice(0)) w.reject(e)
  })
  return {
    get count() {
      return queue.length
    },
    get error() {
      return error
    },
    /** The next message; rejects if none comes within `timeoutMs` (default 30 s). */
    next(timeoutMs = 30_000): Promise<T> {
      const m = queue.shift()
      if (m !== undefined) return Promise.resolve(m)
      if (error) return Promise.reject(error)
      return new Promise((resolve, reject) => {
        const waiter = {
          resolve: (v: T) => {
            clearTimeout(timer)
            resolve(v)
          },
          reject: (e: unknown) => {
            clearTimeout(timer)
            reject(e)
          },
        }
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1)
          reject(new Error(`timed out after ${timeoutMs} ms waiting for the next stream message`))
        }, timeoutMs)
        waiters.push(waiter)
      })
    },
  }
}

/** The status code a stream ends with (0 for OK). */
export function streamStatus(
  stream: ClientReadableStream<unknown>,
): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    stream.on('data', () => {})
    stream.on('error', () => {})
    stream.once('status', (s: { code: number; details: string }) =>
      resolve({ code: s.code, details: s.details }),
    )
  })
}

/** Calls a unary method; resolves to the response or the ServiceError. */
export function unary<Res>(
  fn: (cb: (err: ServiceError | null, res?: Res) => void) => void,
): Promise<{ res?: Res; err?: ServiceError }> {
  return new Promise((resolve) => {
    fn((err, res) => resolve(err ? { err } : { res: res as Res }))
  })
}

/** FetchJWTSVID as a promise of `{ res }` or `{ err }`. */
export function fetchJwt(c: SpiffeWorkloadAPIClient, req: JWTSVIDRequest, m: Metadata = md()) {
  return unary<JWTSVIDResponse__Output>((cb) => c.FetchJWTSVID(req, m, { deadline: Date.now() + 10_000 }, cb))
}

/** ValidateJWTSVID as a promise of `{ res }` or `{ err }`. */
export function validateJwt(c: SpiffeWorkloadAPIClient, req: ValidateJWTSVIDRequest, m: Metadata = md()) {
  return unary<ValidateJWTSVIDResponse__Output>((cb) =>
    c.ValidateJWTSVID(req, m, { deadline: Date.now() + 10_000 }, cb),
  )
}

/** Waits (polling) until `cond()` holds or `ms` passed; returns whether it held. */
export async function eventually(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 20))
  }
  return true
}
