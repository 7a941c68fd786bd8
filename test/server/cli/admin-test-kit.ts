// A real admin API for CLI and handler tests: SQLite in a temp dir, a real CaManager, the
// admin gRPC server on a temp Unix socket, and runCli in-process with captured streams.

import { spawnSync } from 'node:child_process'
import { lstatSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { CaManager } from '../../../server/ca/ca-manager.js'
import { runCli } from '../../../server/cli/run-cli.js'
import type { DataStore } from '../../../server/datastore/datastore.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { type AdminApiServer, startAdminApiServer } from '../../../server/endpoints/admin-api-server.js'
import { PolicyStore } from '../../../server/policy/policy-store.js'
import { RevocationList } from '../../../server/revocation/revocation-list.js'
import { TaskService } from '../../../server/task/task-service.js'
import { FakeClock, RecordingLogger } from '../ca/ca-test-kit.js'

export { FakeClock, RecordingLogger }

export const TD = TrustDomain.parse('example.org')

/** What one CLI run produced. */
export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export interface AdminFixture {
  dir: string
  socketPath: string
  datastore: DataStore
  ca: CaManager
  revocations: RevocationList
  clock: FakeClock
  logger: RecordingLogger
  server: AdminApiServer
  tasks: TaskService
  policies: PolicyStore
  /** The log level `logger get|set|reset` changes (launched at info). */
  logLevel: { level: string; readonly launchLevel: string }
  /** Runs `sigil-server <argv>` in-process against this server (SIGIL_ADMIN_SOCKET set). */
  cli(argv: string[], env?: Record<string, string | undefined>): Promise<CliResult>
  close(): Promise<void>
}

/** Captures everything written to a stream. */
export function capture(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(Buffer.from(chunk))
      cb()
    },
  })
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

/** Runs the CLI in-process with captured streams. */
export async function runCaptured(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<CliResult> {
  const out = capture()
  const err = capture()
  const code = await runCli(argv, { stdout: out.stream, stderr: err.stream, env })
  return { code, stdout: out.text(), stderr: err.text() }
}

/** Starts the fixture; the clock is real time unless `fakeClock` is set. */
export async function startAdminFixture(
  opts: { fakeClock?: boolean; caTtlSeconds?: number } = {},
): Promise<AdminFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-admin-'))
  const clock = new FakeClock()
  const now = opts.fakeClock ? clock.now : () => new Date()
  const logger = new RecordingLogger()
  const datastore = await openDataStore(
    { kind: 'sqlite', path: join(dir, 'datastore.sqlite3') },
    { clock: now },
  )
  const ca = new CaManager({
    trustDomain: TD,
    dataDir: dir,
    caTtlSeconds: opts.caTtlSeconds ?? 86_400,
    caKeyType: 'ec-p256',
    jwtKeyType: 'ec-p256',
    bundleStore: datastore,
    refreshHintSeconds: 300,
    clock: now,
    logger,
  })
  await ca.init()
  const revocations = await RevocationList.load({
    datastore,
    clock: now,
    logger,
    unknownCredentialTtlMs: (opts.caTtlSeconds ?? 86_400) * 1000,
  })
  const socketPath = join(dir, 'private', 'admin.sock')
  const tasks = new TaskService({
    trustDomain: TD,
    ca,
    datastore,
    logger,
    clock: now,
    defaultJwtSvidTtlSeconds: 300,
  })
  const policies = await PolicyStore.open({ datastore, logger })
  const logLevel = { level: 'info', launchLevel: 'info' }
  const server = await startAdminApiServer({
    policies,
    logLevel,
    tasks,
    socketPath,
    trustDomain: TD,
    datastore,
    ca,
    logger,
    clock: now,
    joinTokenTtlSeconds: 600,
    defaultX509SvidTtlSeconds: 3600,
    defaultJwtSvidTtlSeconds: 300,
    revocations,
  })
  return {
    dir,
    socketPath,
    datastore,
    ca,
    revocations,
    clock,
    logger,
    server,
    tasks,
    policies,
    logLevel,
    cli: (argv, env = {}) => runCaptured(argv, { SIGIL_ADMIN_SOCKET: socketPath, ...env }),
    async close() {
      await server.close()
      await datastore.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Leaves a Unix socket file at `path` that nobody listens on (its process was SIGKILLed). */
export function makeStaleSocket(path: string): void {
  const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`
  spawnSync(process.execPath, ['-e', script])
  if (!lstatSync(path).isSocket()) throw new Error(`no stale socket at ${path}`)
}
