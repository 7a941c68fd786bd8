import { closeSync, openSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import {
  findPackageRoot,
  loadPeercredAddon,
  type PeercredAddon,
} from '../../../agent/peercred/native-addon.js'
import {
  pidfdIsAlive,
  readPeerCredentials,
  releasePeerCredentials,
} from '../../../agent/peercred/peer-credentials.js'
import { ROOT } from '../../helpers/server-process.js'
import { killAndReap, startSocketHarness } from './socket-harness.js'

const repoRoot = ROOT

t.test('the addon is found from sources and from compiled output alike', async (t) => {
  t.equal(findPackageRoot(join(repoRoot, 'agent', 'peercred')), repoRoot)
  t.equal(findPackageRoot(join(repoRoot, 'dist', 'agent', 'peercred')), repoRoot)
  const dir = t.testdir({ pkg: { 'package.json': '{}', a: { b: {} } } })
  t.equal(findPackageRoot(join(dir, 'pkg', 'a', 'b')), join(dir, 'pkg'))
  const addon = loadPeercredAddon()
  t.equal(loadPeercredAddon(), addon, 'loaded once')
  for (const f of ['getPeerCred', 'getPeerPidfd', 'pidfdIsAlive', 'closeFd'] as const)
    t.type(addon[f], 'function')
})

t.test('our own connection: our pid, uid and gid, and a live pidfd', async (t) => {
  const h = await startSocketHarness(t)
  const client = connect(h.socketPath)
  t.teardown(() => client.destroy())
  const creds = readPeerCredentials(await h.nextConnection())
  t.equal(creds.pid, process.pid)
  t.equal(creds.uid, process.getuid!())
  t.equal(creds.gid, process.getgid!())
  t.type(creds.pidfd, 'number', 'this kernel offers SO_PEERPIDFD')
  t.ok(creds.pidfd! >= 0)
  t.equal(pidfdIsAlive(creds.pidfd!), true)
  releasePeerCredentials(creds)
})

t.test(
  'a child under another uid/gid: the kernel reports its pid and ids; the pidfd dies with it',
  async (t) => {
    const h = await startSocketHarness(t)
    const child = h.spawnClient('client-a.js', { uid: 4242, gid: 4242 })
    const creds = readPeerCredentials(await h.nextConnection())
    t.equal(creds.pid, child.pid)
    t.equal(creds.uid, 4242)
    t.equal(creds.gid, 4242)
    t.ok(creds.pidfd !== undefined && creds.pidfd >= 0)
    t.equal(pidfdIsAlive(creds.pidfd!), true)
    await killAndReap(child)
    t.equal(pidfdIsAlive(creds.pidfd!), false, 'the pidfd reports the exit')
    releasePeerCredentials(creds)
  },
)

t.test('no descriptor or no Unix peer: ERR_ATTESTATION_FAILED', async (t) => {
  const h = await startSocketHarness(t)
  const client = connect(h.socketPath)
  t.teardown(() => client.destroy())
  const socket = await h.nextConnection()
  socket.destroy()
  t.throws(() => readPeerCredentials(socket), { code: 'ERR_ATTESTATION_FAILED' }, 'destroyed socket')

  const tcp = createServer()
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
  const port = (tcp.address() as { port: number }).port
  const accepted = new Promise<Socket>((resolve) => tcp.once('connection', resolve))
  const tcpClient = connect(port, '127.0.0.1')
  const tcpSocket = await accepted
  t.throws(() => readPeerCredentials(tcpSocket), { code: 'ERR_ATTESTATION_FAILED' }, 'TCP has no peer pid')
  tcpSocket.destroy()
  tcpClient.destroy()
  await new Promise((resolve) => tcp.close(resolve))
})

t.test('the addon validates its arguments and reports errno', async (t) => {
  const addon = loadPeercredAddon()
  for (const bad of ['3', -1, 1.5, Number.NaN, 2 ** 40, undefined] as unknown[]) {
    t.throws(() => addon.getPeerCred(bad as number), TypeError, String(bad))
    t.throws(() => addon.pidfdIsAlive(bad as number), TypeError, String(bad))
  }
  const fd = openSync(fileURLToPath(import.meta.url), 'r')
  t.teardown(() => closeSync(fd))
  t.throws(() => addon.getPeerCred(fd), { code: 'ENOTSOCK', syscall: 'getsockopt(SO_PEERCRED)' })
  t.throws(() => addon.getPeerPidfd(fd), { code: 'ENOTSOCK' })
  t.throws(() => addon.pidfdIsAlive(fd), { code: 'EBADF', syscall: 'pidfd_send_signal' }, 'not a pidfd')
})

t.test('policy over the kernel answers (with a stand-in addon)', async (t) => {
  const h = await startSocketHarness(t)
  const client = connect(h.socketPath)
  t.teardown(() => client.destroy())
  const socket = await h.nextConnection()
  const closed: number[] = []
  const fake = (over: Partial<PeercredAddon>): PeercredAddon => ({
    getPeerCred: () => ({ pid: 1234, uid: 1, gid: 2 }),
    getPeerPidfd: () => 99,
    pidfdIsAlive: () => true,
    closeFd: (fd) => {
      closed.push(fd)
    },
    ...over,
  })
  t.same(
    readPeerCredentials(socket, fake({ getPeerPidfd: () => -1 })),
    { pid: 1234, uid: 1, gid: 2 },
    'old kernel',
  )
  t.throws(() => readPeerCredentials(socket, fake({ getPeerCred: () => ({ pid: 0, uid: 0, gid: 0 }) })), {
    code: 'ERR_ATTESTATION_FAILED',
  })
  const gone = () => {
    throw Object.assign(new Error('getsockopt(SO_PEERPIDFD): Invalid argument'), { code: 'EINVAL' })
  }
  t.throws(() => readPeerCredentials(socket, fake({ getPeerPidfd: gone })), {
    code: 'ERR_ATTESTATION_FAILED',
  })
  t.throws(() => readPeerCredentials(socket, fake({ getPeerCred: gone })), { code: 'ERR_ATTESTATION_FAILED' })

  const creds = readPeerCredentials(socket, fake({}))
  t.equal(creds.pidfd, 99)
  releasePeerCredentials(creds, fake({}))
  releasePeerCredentials(creds, fake({}))
  t.same(closed, [99], 'the pidfd is closed exactly once')
})
