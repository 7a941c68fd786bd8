import { readlinkSync } from 'node:fs'
import { chmod, lstat, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AuditTrail } from '../../../server/audit/audit-trail.js'
import { AdminClient } from '../../../server/cli/admin-client.js'
import { type AdminApiServerConfig, startAdminApiServer } from '../../../server/endpoints/admin-api-server.js'
import { type AdminFixture, makeStaleSocket, startAdminFixture, TD } from '../cli/admin-test-kit.js'

let f: AdminFixture
let scratch: string
t.before(async () => {
  f = await startAdminFixture()
  scratch = await mkdtemp(join(tmpdir(), 'sigil-sock-'))
})
t.teardown(async () => {
  await f.close()
  await rm(scratch, { recursive: true, force: true })
})

const config = (socketPath: string): AdminApiServerConfig => ({
  socketPath,
  trustDomain: TD,
  datastore: f.datastore,
  ca: f.ca,
  logger: f.logger,
  clock: () => new Date(),
  joinTokenTtlSeconds: 600,
  defaultX509SvidTtlSeconds: 3600,
  defaultJwtSvidTtlSeconds: 300,
  revocations: f.revocations,
})

async function count(socketPath: string): Promise<number> {
  const admin = AdminClient.open(socketPath)
  try {
    return (await admin.call('CountEntries', {})).count
  } finally {
    admin.close()
  }
}

t.test('the socket is 0600 in a 0700 directory created for it', async (t) => {
  t.equal((await lstat(f.socketPath)).mode & 0o777, 0o600, 'socket 0600')
  t.ok((await lstat(f.socketPath)).isSocket())
  t.equal((await stat(join(f.dir, 'private'))).mode & 0o777, 0o700, 'directory 0700')
  const nested = join(scratch, 'a', 'b', 'admin.sock')
  const server = await startAdminApiServer(config(nested))
  t.teardown(() => server.close())
  t.equal((await stat(join(scratch, 'a', 'b'))).mode & 0o777, 0o700)
  t.equal(await count(nested), 0, 'serves on the new socket')
})

t.test('an existing directory keeps its mode; a warning says others can enter it', async (t) => {
  const dir = join(scratch, 'open')
  await mkdir(dir)
  await chmod(dir, 0o755)
  const server = await startAdminApiServer(config(join(dir, 'admin.sock')))
  t.teardown(() => server.close())
  t.equal((await stat(dir)).mode & 0o777, 0o755, 'not changed')
  t.equal((await lstat(join(dir, 'admin.sock'))).mode & 0o777, 0o600, 'the socket is still 0600')
  t.match(f.logger.text(), /admin socket directory is accessible to other users/)
})

t.test('a stale socket is replaced; a live one is refused; a regular file is left alone', async (t) => {
  const path = join(scratch, 'stale.sock')
  makeStaleSocket(path)
  const server = await startAdminApiServer(config(path))
  t.equal(await count(path), 0, 'serving after removing the stale socket')

  await t.rejects(startAdminApiServer(config(path)), { code: 'ERR_UNAVAILABLE', message: /in use/ })
  t.equal(await count(path), 0, 'the live server is untouched')
  await server.close()
  await t.rejects(lstat(path), { code: 'ENOENT' }, 'close removes the socket file')

  const file = join(scratch, 'file.sock')
  await writeFile(file, 'keep me')
  await t.rejects(startAdminApiServer(config(file)), { code: 'ERR_CONFIG_INVALID', message: /not a socket/ })
  t.ok((await lstat(file)).isFile(), 'the file is still there')
})

t.test('a socket path longer than the kernel allows is a config error', async (t) => {
  await t.rejects(startAdminApiServer(config(join(scratch, 'x'.repeat(120), 'admin.sock'))), {
    code: 'ERR_CONFIG_INVALID',
  })
})

t.test('close is idempotent and waits for the server', async (t) => {
  const path = join(scratch, 'twice.sock')
  const server = await startAdminApiServer(config(path))
  await Promise.all([server.close(), server.close()])
  await server.close()
  await t.rejects(lstat(path), { code: 'ENOENT' })
})

t.test("with an audit trail, each call is recorded with the caller's kernel peer credentials", async (t) => {
  const audit = new AuditTrail({ datastore: f.datastore, logger: f.logger })
  const path = join(scratch, 'audited.sock')
  const server = await startAdminApiServer({ ...config(path), audit })
  t.teardown(() => server.close())
  t.equal(await count(path), 0)
  const [record] = await audit.list({ kindPrefix: 'admin_', limit: 1 })
  t.same(JSON.parse(record?.actor ?? '{}'), {
    exe: readlinkSync('/proc/self/exe'),
    pid: process.pid,
    uid: process.getuid?.(),
  })
  t.match(JSON.parse(record?.details ?? '{}'), { method: 'CountEntries' })
})

t.test('a connection whose peer credentials cannot be read is closed', async (t) => {
  const path = join(scratch, 'nopeer.sock')
  const server = await startAdminApiServer({
    ...config(path),
    readPeer: () => {
      throw new Error('no peer credentials')
    },
  })
  t.teardown(() => server.close())
  await t.rejects(count(path), { name: 'AdminCallError', message: /cannot reach the admin API/ })
  t.match(f.logger.text(), /admin connection refused: cannot read its peer credentials/)
})
