/**
 * Two real sigil-server processes on one throw-away PostgreSQL (issue 15): A starts as usual, B
 * joins with `--join-datastore`; resolves once both servers publish the shared bundle with both
 * CAs. Everything stops and the temp dir goes at teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pemToCertificates } from '../../certs/x509svid/pem.js'
import { startPostgres } from './postgres-server.js'
import { type ServerProcess, startServerProcess } from './server-process.js'
import { waitUntil } from './wait-until.js'

/** What {@link startServerPair} resolves. */
export interface ServerPair {
  /** A temp dir for the test's own files (the servers' data dirs are `a/` and `b/` in it). */
  readonly dir: string
  /** The environment that points a server at the shared database (`SIGIL_DATASTORE`). */
  readonly env: Readonly<Record<string, string>>
  readonly a: ServerProcess
  readonly b: ServerProcess
}

/** The X.509 roots in a server's `bundle show` output (base64 DER). */
export async function bundleRoots(server: ServerProcess): Promise<string[]> {
  const shown = await server.cli('bundle', 'show')
  if (shown.code !== 0) throw new Error(shown.stderr)
  return pemToCertificates(shown.stdout).map((d) => d.toString('base64'))
}

/**
 * @example
 * const { a, b, dir } = await startServerPair(t, { argsB: ['--metrics-address', '127.0.0.1:0'] })
 */
export async function startServerPair(
  t: { teardown(fn: () => unknown): void },
  opts: { args?: readonly string[]; argsB?: readonly string[] } = {},
): Promise<ServerPair> {
  const pg = await startPostgres(t)
  const env = { SIGIL_DATASTORE: pg.url(await pg.createDatabase()) }
  const dir = mkdtempSync(join(tmpdir(), 'sigil-pair-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const a = await startServerProcess(join(dir, 'a'), [...(opts.args ?? [])], env)
  t.teardown(() => a.stop())
  const b = await startServerProcess(
    join(dir, 'b'),
    [...(opts.args ?? []), '--join-datastore', ...(opts.argsB ?? [])],
    env,
  )
  t.teardown(() => b.stop())
  await waitUntil(
    'both servers to publish the shared bundle with both CAs',
    async () => (await bundleRoots(a)).length >= 2 && (await bundleRoots(b)).length >= 2,
    { timeoutMs: 10_000, intervalMs: 100 },
  )
  return { dir, env, a, b }
}
