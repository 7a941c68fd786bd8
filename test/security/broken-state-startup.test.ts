// Attack family: the server starting on broken state. A lost or swapped CA key store made the
// server mint a new CA silently and drop the old root, so every issued SVID stopped verifying;
// a truncated datastore made it report healthy with 0 entries; key files readable by other users
// were used as they were. Each is now a fatal start-up error (exit 1, one line naming the file)
// unless the operator passes --allow-new-ca / --allow-empty-datastore.
import { chmodSync, rmSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { runBinWithin, SERVER_BIN, shortTempDir, startServerProcess } from '../helpers/server-process.js'

const KEYS = ['keys', 'authorities.json']

/** A data dir the server has used: one entry created, then a clean stop. */
async function usedDataDir(t: Test): Promise<string> {
  const dir = join(shortTempDir(t), 's')
  const server = await startServerProcess(dir)
  const created = await server.cli(
    'entry',
    'create',
    '--spiffe-id',
    'spiffe://example.org/web',
    '--parent-id',
    'spiffe://example.org/node',
    '--selector',
    'unix:uid:1000',
  )
  t.equal(created.code, 0, created.stderr)
  t.equal(await server.stop(), 0)
  return dir
}

/** `sigil-server run` on `dir`, expected to refuse to start. */
function runServer(dir: string, extra: string[] = []) {
  return runBinWithin(
    SERVER_BIN,
    [
      'run',
      '--data-dir',
      dir,
      '--agent-api-address',
      '127.0.0.1:0',
      '--bundle-endpoint-address',
      '127.0.0.1:0',
      ...extra,
    ],
    20_000,
  )
}

function assertRefused(t: Test, r: Awaited<ReturnType<typeof runServer>>, file: string, hint: RegExp): void {
  t.notOk(r.timedOut, 'the server did not start')
  t.equal(r.code, 1, 'exit 1')
  const lines = r.stderr.trim().split('\n')
  t.equal(lines.length, 1, `one stderr line: ${r.stderr}`)
  t.match(lines[0], file, 'the line names the file')
  t.match(lines[0], hint)
}

// Attack: the CA key journal is deleted (or lost in a restore) while the datastore keeps its bundle and entries.
t.test('keys missing while the datastore holds a bundle: refused unless --allow-new-ca', async (t) => {
  const dir = await usedDataDir(t)
  rmSync(join(dir, ...KEYS))
  assertRefused(t, await runServer(dir), join(dir, ...KEYS), /--allow-new-ca/)
  const again = await startServerProcess(dir, ['--allow-new-ca'])
  t.teardown(() => again.stop())
  t.ok(
    again.logs.some((l) => l.level === 'warn' && /new CA/.test(String(l.msg))),
    'starting a new CA on purpose is logged as a warning',
  )
  const count = await again.cli('entry', 'count', '--output', 'json')
  t.match(count.stdout, /"count":\s*1\b/, 'the entries are still there')
})

// Attack: the key journal is swapped for another server's keys (a wrong backup restored).
t.test('keys that do not belong to the datastore bundle: refused', async (t) => {
  const dir = await usedDataDir(t)
  const other = await usedDataDir(t)
  rmSync(join(dir, 'keys'), { recursive: true })
  const { cpSync } = await import('node:fs')
  cpSync(join(other, 'keys'), join(dir, 'keys'), { recursive: true })
  assertRefused(t, await runServer(dir), join(dir, ...KEYS), /--allow-new-ca/)
})

// Attack: the datastore file is truncated to 0 bytes (or deleted) while the CA keys remain.
t.test('an empty datastore beside existing keys: refused unless --allow-empty-datastore', async (t) => {
  const dir = await usedDataDir(t)
  const db = join(dir, 'datastore.sqlite3')
  truncateSync(db, 0)
  assertRefused(t, await runServer(dir), db, /--allow-empty-datastore/)
  rmSync(db)
  assertRefused(t, await runServer(dir), db, /--allow-empty-datastore/)
  const again = await startServerProcess(dir, ['--allow-empty-datastore'])
  t.teardown(() => again.stop())
  const health = await again.cli('healthcheck')
  t.equal(health.code, 0, health.stderr)
})

// Attack: another local user can read the CA keys because their file or directory is too open.
t.test('key files or directories more open than 0600/0700 are refused', async (t) => {
  const dir = await usedDataDir(t)
  chmodSync(join(dir, 'keys'), 0o755)
  assertRefused(t, await runServer(dir), join(dir, 'keys'), /0700/)
  chmodSync(join(dir, 'keys'), 0o700)
  chmodSync(join(dir, ...KEYS), 0o644)
  assertRefused(t, await runServer(dir), join(dir, ...KEYS), /0600/)
  chmodSync(join(dir, ...KEYS), 0o600)
  const again = await startServerProcess(dir)
  t.equal(await again.stop(), 0, 'starts again once the modes are right')
})

t.test('a fresh data dir (no datastore, no keys) starts normally', async (t) => {
  const dir = join(shortTempDir(t), 's')
  const server = await startServerProcess(dir)
  t.equal(await server.stop(), 0)
})
