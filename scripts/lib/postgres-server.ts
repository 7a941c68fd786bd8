/**
 * A real, throw-away PostgreSQL for tests, benchmarks and `npm run start:ha`: Debian's server binaries (`initdb`, `postgres` from
 * /usr/lib/postgresql/<version>/bin, or `SIGIL_TEST_PG_BIN`) on a mkdtemp directory, a free port
 * on 127.0.0.1 plus a Unix socket in that directory, password (SCRAM) authentication so wrong
 * credentials can be tested, fsync off (the data is thrown away). initdb and postgres refuse to
 * run as root, so as root they run as `nobody` through `setpriv`, the directory chowned to it;
 * setpriv's parent-death signal stops the server even when the test process is killed outright.
 * The server is stopped and its directory removed when its owner ends (a tap test, or any object
 * with `teardown`). Missing binaries throw with what to install — CI installs them
 * (scripts/install-test-prerequisites.sh). Trust: it runs local binaries only; the password is
 * random per run and lives in a 0600 file inside the 0700 temp dir.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

/** Something that runs cleanups when it ends: a tap test, or {@link Teardowns}. */
export interface TeardownOwner {
  teardown(fn: () => unknown): void
}

/** A free TCP port on 127.0.0.1 (the kernel's pick, released again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      srv.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/** Polls `check` every `intervalMs` until true; throws naming `what` after `timeoutMs`. */
async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs, intervalMs }: { timeoutMs: number; intervalMs: number },
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** The login role the tests' datastores use (not a superuser). */
export const PG_USER = 'sigil'

/** A running test PostgreSQL. */
export interface TestPostgres {
  /** The mkdtemp directory holding the cluster (`data/`), the socket (`sock/`) and the password file. */
  readonly dir: string
  readonly host: string
  readonly port: number
  /** The directory holding the Unix socket (`/.s.PGSQL.<port>`). */
  readonly socketDir: string
  /** The password of {@link PG_USER} (and of the superuser `postgres`). */
  readonly password: string
  /** `postgres://sigil:<password>@127.0.0.1:<port>/<database>`. */
  url(database: string, password?: string): string
  /** Creates an empty database owned by {@link PG_USER}; resolves its name. */
  createDatabase(): Promise<string>
  /** Runs SQL as the superuser on `database` (default `postgres`). */
  adminQuery(sql: string, database?: string): Promise<pg.QueryResult>
  /** Stops the server (fast shutdown: open sessions are ended) and waits until it has exited. */
  stop(): Promise<void>
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>
  /** The server log so far (for failure messages). */
  log(): string
  /** The postmaster's process ID (undefined while stopped). */
  pid(): number | undefined
}

/** The directory of the newest installed PostgreSQL server binaries; throws naming the package when none. */
export function postgresBinDir(): string {
  const override = process.env.SIGIL_TEST_PG_BIN
  if (override) return override
  const base = '/usr/lib/postgresql'
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter(
          (v) => existsSync(join(base, v, 'bin', 'postgres')) && existsSync(join(base, v, 'bin', 'initdb')),
        )
        .sort((a, b) => Number(b) - Number(a))
    : []
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install the Debian package ' +
        '"postgresql" (sudo bash scripts/install-test-prerequisites.sh) or set SIGIL_TEST_PG_BIN',
    )
  }
  return join(base, versions[0]!, 'bin')
}

/** The user the server runs as when we are root (initdb and postgres refuse root). */
function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number(execFileSync('id', ['-u', 'nobody']).toString().trim())
  const gid = Number(execFileSync('id', ['-g', 'nobody']).toString().trim())
  return { uid, gid }
}

/**
 * The command prefix for initdb and postgres: as `nobody` when we are root, and with a parent-death
 * signal, so a test process killed outright (tap's timeout) takes its PostgreSQL with it.
 */
function commandPrefix(user: { uid: number; gid: number } | undefined): string[] {
  const ids = user ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'] : []
  return ['setpriv', ...ids, '--pdeathsig', 'SIGQUIT', '--']
}

/**
 * Starts a PostgreSQL owned by `t` (a tap test, or any {@link TeardownOwner}): stopped and its
 * directory removed when `t` ends.
 *
 * @example
 * const pgsrv = await startPostgres(t)
 * const ds = await PostgresDataStore.open({ url: pgsrv.url(await pgsrv.createDatabase()) })
 */
export async function startPostgres(t: TeardownOwner): Promise<TestPostgres> {
  const bin = postgresBinDir()
  const user = unprivilegedUser()
  const prefix = commandPrefix(user)
  const dir = mkdtempSync(join(tmpdir(), 'sigil-pg-'))
  const dataDir = join(dir, 'data')
  const socketDir = join(dir, 'sock')
  mkdirSync(socketDir)
  const password = `pw-${randomBytes(12).toString('hex')}`
  const pwfile = join(dir, 'pwfile')
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 })
  chmodSync(dir, 0o700)
  if (user) for (const p of [dir, socketDir, pwfile]) chownSync(p, user.uid, user.gid)
  let child: ChildProcess | undefined
  let logText = ''
  const kill = () => child?.kill('SIGQUIT')
  process.once('exit', kill)
  t.teardown(async () => {
    process.removeListener('exit', kill)
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const run = (cmd: string, args: string[]) => {
    const argv = [...prefix, join(bin, cmd), ...args]
    return execFileSync(argv[0]!, argv.slice(1), { cwd: dir, stdio: 'pipe', timeout: 60_000 })
  }
  try {
    run('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      `--pwfile=${pwfile}`,
      '-A',
      'scram-sha-256',
      '-E',
      'UTF8',
      '--no-sync',
      '--no-instructions',
    ])
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string }
    throw new Error(`initdb failed: ${err.stderr?.toString() ?? err.message}`)
  }
  const host = '127.0.0.1'
  const port = await freePort()

  async function start(): Promise<void> {
    const argv = [
      ...prefix,
      join(bin, 'postgres'),
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      socketDir,
      '-c',
      `listen_addresses=${host}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ]
    const c = spawn(argv[0]!, argv.slice(1), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    c.stdout?.on('data', (d: Buffer) => {
      logText += d.toString()
    })
    c.stderr?.on('data', (d: Buffer) => {
      logText += d.toString()
    })
    await waitUntil(
      `PostgreSQL on ${host}:${port} to accept connections (log: ${logText.slice(-2000)})`,
      async () => {
        if (c.exitCode !== null)
          throw new Error(`postgres exited with ${c.exitCode}: ${logText.slice(-2000)}`)
        const client = new pg.Client({
          host,
          port,
          user: 'postgres',
          password,
          database: 'postgres',
          connectionTimeoutMillis: 2_000,
        })
        client.on('error', () => {})
        try {
          await client.connect()
          await client.end()
          return true
        } catch {
          return false
        }
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    )
  }

  async function stop(): Promise<void> {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((r) => c.once('exit', () => r()))
    c.kill('SIGINT') // fast shutdown
    await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('PostgreSQL did not stop within 30 s')), 30_000).unref(),
      ),
    ])
  }

  async function adminQuery(sql: string, database = 'postgres'): Promise<pg.QueryResult> {
    const client = new pg.Client({
      host,
      port,
      user: 'postgres',
      password,
      database,
      connectionTimeoutMillis: 10_000,
      statement_timeout: 30_000,
    })
    client.on('error', () => {})
    await client.connect()
    try {
      return await client.query(sql)
    } finally {
      await client.end()
    }
  }

  await start()
  await adminQuery(`CREATE ROLE ${PG_USER} LOGIN PASSWORD '${password}'`)
  let databases = 0
  return {
    dir,
    host,
    port,
    socketDir,
    password,
    url: (database, pw = password) =>
      `postgres://${PG_USER}:${encodeURIComponent(pw)}@${host}:${port}/${database}`,
    createDatabase: async () => {
      databases += 1
      const name = `sigil_${databases}`
      await adminQuery(`CREATE DATABASE ${name} OWNER ${PG_USER} TEMPLATE template0 STRATEGY FILE_COPY`)
      return name
    },
    adminQuery,
    stop,
    start,
    log: () => logText,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
  }
}
