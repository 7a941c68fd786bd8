// A real Unix-socket server in a temp dir, plus real `node` client processes (optionally under
// another uid/gid) that connect to it and stay connected until killed. Shared by the peercred and
// workload attestation end-to-end tests.
import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type t from 'tap'

/** A client that connects to argv[2] and then waits forever. */
const CLIENT_SOURCE = `const net = require('node:net')
const s = net.connect(process.argv[2])
s.on('error', () => process.exit(2))
setInterval(() => {}, 1 << 30)
`

export interface SocketHarness {
  /** Temp dir (0755) holding the socket and the client scripts `client-a.js` and `client-b.js`. */
  readonly dir: string
  readonly socketPath: string
  readonly server: Server
  /** The next accepted connection (FIFO). */
  nextConnection(): Promise<Socket>
  /** Spawns `node <script> <socketPath>` in `dir`; killed at teardown. */
  spawnClient(script: string, ids?: { uid: number; gid: number }): ChildProcess
}

export async function startSocketHarness(test: Pick<typeof t, 'teardown'>): Promise<SocketHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-peercred-'))
  chmodSync(dir, 0o755)
  for (const name of ['client-a.js', 'client-b.js']) {
    writeFileSync(join(dir, name), `// ${name}\n${CLIENT_SOURCE}`, { mode: 0o644 })
  }
  const socketPath = join(dir, 'api.sock')
  const accepted: Socket[] = []
  const waiters: ((s: Socket) => void)[] = []
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    const waiter = waiters.shift()
    if (waiter) waiter(socket)
    else accepted.push(socket)
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  chmodSync(socketPath, 0o777)
  const children: ChildProcess[] = []
  test.teardown(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    dir,
    socketPath,
    server,
    nextConnection: () => {
      const ready = accepted.shift()
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiters.push(resolve))
    },
    spawnClient: (script, ids) => {
      // Through `env -u NODE_OPTIONS` (which execs node in place): tap preloads its hooks into
      // every child through NODE_OPTIONS, and preloaded code withholds proc:script.
      const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, script, socketPath], {
        cwd: dir,
        stdio: 'ignore',
        ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
      })
      children.push(child)
      return child
    },
  }
}

/** Kills a child and waits until it has been reaped. */
export async function killAndReap(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}
