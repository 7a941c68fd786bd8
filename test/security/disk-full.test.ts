// Attack family: a full filesystem under the server's data dir (a runaway log, or a local user
// filling a shared disk). Creates and mints used to fail as "internal error" while
// `healthcheck` said healthy. Now every write path answers ResourceExhausted "datastore: no
// space left", healthcheck is unhealthy while writes fail and healthy once space returns,
// writing CA keys on a full disk is a clear start-up error, and nothing acknowledged is lost.
// The full filesystem is real: a 2 MiB tmpfs mounted for the data dir (needs root).
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { status } from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import { AdminCallError, AdminClient } from '../../server/cli/admin-client.js'
import { runBinWithin, SERVER_BIN, startServerProcess } from '../helpers/server-process.js'

/** Whether this process may mount a tmpfs (root, and mount permitted here). */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false
  const dir = mkdtempSync(join(tmpdir(), 'sigil-mnt-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' })
    execFileSync('umount', [dir], { stdio: 'pipe' })
    return true
  } catch {
    return false
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
const isRoot = process.getuid?.() === 0
const mountable = canMountTmpfs()

/**
 * Mounts a 2 MiB tmpfs on a fresh temp dir; undefined when mount is not permitted. At teardown the
 * `stops` run first (servers on it), then it is unmounted and removed.
 */
function smallTmpfs(t: Test, stops: (() => Promise<unknown>)[]): string | undefined {
  if (process.getuid?.() !== 0) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'sigil-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' })
  } catch {
    rmSync(dir, { recursive: true, force: true })
    return undefined
  }
  t.teardown(async () => {
    for (const stop of stops) await stop()
    execFileSync('umount', [dir], { stdio: 'pipe' })
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** Writes a filler file until the filesystem is full; returns its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler')
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(64 * 1024, 1)
  try {
    for (let i = 0; i < 10_000; i++) {
      let n = chunk
      while (n.length > 0) {
        try {
          writeSync(fd, n)
          break
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
          if (n.length <= 512) return path
          n = n.subarray(0, n.length >> 1)
        }
      }
    }
    throw new Error('the filesystem never filled up')
  } finally {
    closeSync(fd)
  }
}

const entryArgs = (i: number) => [
  'entry',
  'create',
  '--spiffe-id',
  `spiffe://example.org/w${i}`,
  '--parent-id',
  'spiffe://example.org/node',
  '--selector',
  `unix:uid:${1000 + i}`,
]

// Attack: the data dir's filesystem fills up while the server runs.
t.test(
  'full disk: writes answer ResourceExhausted, healthcheck fails, both recover',
  {
    skip: !isRoot
      ? 'needs root to mount a tmpfs'
      : !mountable
        ? 'mount -t tmpfs is not permitted here (a container without CAP_SYS_ADMIN)'
        : false,
  },
  async (t) => {
    const stops: (() => Promise<unknown>)[] = []
    const fs = smallTmpfs(t, stops)
    if (!fs) throw new Error('mounting the tmpfs failed')
    const server = await startServerProcess(join(fs, 's'))
    stops.push(() => server.stop())
    let acknowledged = 0
    for (let i = 0; i < 5; i++) {
      const r = await server.cli(...entryArgs(i))
      t.equal(r.code, 0, r.stderr)
      acknowledged++
    }
    t.equal((await server.cli('healthcheck')).code, 0, 'healthy before the disk fills')

    const filler = fill(fs)
    let failures = 0
    for (let i = 5; i < 25; i++) {
      const r = await server.cli(...entryArgs(i))
      if (r.code === 0) {
        acknowledged++
        continue
      }
      failures++
      t.match(r.stderr, /no space left/, `create ${i}: says no space left`)
      t.notMatch(r.stderr, /internal error/)
    }
    t.ok(failures > 0, 'creates fail on the full disk')
    const admin = AdminClient.open(server.adminSocket)
    const refused = await admin
      .call('CreateJoinToken', { spiffe_id: 'spiffe://example.org/node9', ttl: 60 })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    admin.close()
    t.ok(refused instanceof AdminCallError, 'token generate fails too')
    t.equal((refused as AdminCallError).status, status.RESOURCE_EXHAUSTED, 'as RESOURCE_EXHAUSTED')
    t.equal((refused as AdminCallError).sigilCode, 'ERR_DATASTORE_FULL')
    t.match((refused as AdminCallError).message, /^datastore: no space left/)
    const mint = await server.cli(
      'x509',
      'mint',
      '--spiffe-id',
      'spiffe://example.org/minted',
      '--output',
      'json',
    )
    t.not(mint.code, 0, 'x509 mint fails (its issuance record cannot be written)')
    t.match(mint.stderr, /no space left/)
    t.notMatch(mint.stderr, /internal error/)
    const sick = await server.cli('healthcheck')
    t.equal(sick.code, 1, 'unhealthy while writes fail')
    t.match(sick.stderr, /no space left/)

    rmSync(filler)
    const well = await server.cli('healthcheck')
    t.equal(well.code, 0, `healthy again once space returns: ${well.stderr}`)
    const after = await server.cli(...entryArgs(100))
    t.equal(after.code, 0, after.stderr)
    acknowledged++
    const minted = await server.cli(
      'x509',
      'mint',
      '--spiffe-id',
      'spiffe://example.org/minted',
      '--output',
      'json',
    )
    t.equal(minted.code, 0, minted.stderr)
    const count = await server.cli('entry', 'count', '--output', 'json')
    t.match(count.stdout, new RegExp(`"count":\\s*${acknowledged}\\b`), 'every acknowledged entry is there')
  },
)

// Attack: the disk is already full when the server first writes its CA keys.
t.test(
  'full disk at first start: exit 1 with one line saying no space left',
  {
    skip: !isRoot
      ? 'needs root to mount a tmpfs'
      : !mountable
        ? 'mount -t tmpfs is not permitted here (a container without CAP_SYS_ADMIN)'
        : false,
  },
  async (t) => {
    const stops: (() => Promise<unknown>)[] = []
    const fs = smallTmpfs(t, stops)
    if (!fs) throw new Error('mounting the tmpfs failed')
    const dir = join(fs, 's')
    mkdirSync(dir, { mode: 0o700 })
    const filler = fill(fs)
    const r = await runBinWithin(
      SERVER_BIN,
      ['run', '--data-dir', dir, '--agent-api-address', '127.0.0.1:0', '--bundle-endpoint-address', 'off'],
      20_000,
    )
    t.notOk(r.timedOut, 'the server did not start')
    t.equal(r.code, 1)
    const lines = r.stderr.trim().split('\n')
    t.equal(lines.length, 1, r.stderr)
    t.match(lines[0], /no space left/)
    rmSync(filler)
    const server = await startServerProcess(dir)
    t.equal(await server.stop(), 0, 'starts once space returns')
  },
)
