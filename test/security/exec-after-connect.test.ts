// Attack family: the process that connected to the Workload API is no longer the one the agent
// attested — it exec'd a setuid binary after connecting — while another process (a child it
// forked, which kept the connection) asks for SVIDs on that connection.
// Real sigil-server + sigil-agent; the attacker runs as nobody (65534).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { startSigilNode } from '../helpers/agent-process.js'
import { parseRawFetchOutput, writeRawX509Fetch } from '../helpers/raw-x509-fetch.js'

const NOBODY = 65534
const TD = 'spiffe://example.org'

/** A python3 that uid 65534 can run (not a pyenv shim under /root). */
function python(): string | undefined {
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3']) if (existsSync(p)) return p
  const which = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8', uid: NOBODY, gid: NOBODY })
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : undefined
}

/**
 * Connects to the agent's socket, forks a child that keeps the connection and runs the raw
 * Workload API client on it (once this process has become root plus the agent's 1 s attestation
 * reuse), and exec's the setuid-root binary in the process that connected.
 */
const ATTACKER = `
import os, socket, sys
sock_path, suid, node, client = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
parent = os.getpid()
if os.fork() == 0:
    os.set_inheritable(s.fileno(), True)
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'SIGIL_ATTACK_FD': str(s.fileno()),
           'SIGIL_ATTACK_WAIT_EUID0': str(parent), 'SIGIL_ATTACK_DELAY_MS': '1500'}
    os.execve(node, [node, client], env)
os.execv(suid, [suid, '120'])
`

/** Copies /bin/sleep as a setuid-root binary; undefined when the temp fs ignores setuid. */
function setuidSleep(dir: string): string | undefined {
  const bin = join(dir, 'suid-sleep')
  copyFileSync('/bin/sleep', bin)
  chmodSync(bin, 0o4755)
  const probe = spawn(bin, ['30'], { uid: NOBODY, gid: NOBODY, stdio: 'ignore' })
  const st = spawnSync('grep', ['^Uid:', `/proc/${probe.pid}/status`], { encoding: 'utf8' })
  probe.kill('SIGKILL')
  return st.stdout.split(/\s+/)[2] === '0' ? bin : undefined
}

const isRoot = process.getuid?.() === 0
const py = isRoot ? python() : undefined
const work = isRoot ? mkdtempSync(join(tmpdir(), 'sigil-suid-')) : undefined
if (work !== undefined) {
  chmodSync(work, 0o755)
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
}
const suid = work === undefined ? undefined : setuidSleep(work)

t.test(
  'a child holding the connection of a process that exec’d a setuid-root binary gets no root SVID',
  {
    skip: !isRoot
      ? 'needs root: the attacker runs as uid 65534'
      : py === undefined
        ? 'no python3 runnable by uid 65534'
        : suid === undefined
          ? 'the temp file system ignores the setuid bit (nosuid)'
          : false,
  },
  async (t) => {
    if (py === undefined || suid === undefined || work === undefined) throw new Error('unreachable: skipped')
    const node = await startSigilNode(t)
    const client = writeRawX509Fetch(join(work, 'client.mjs'))
    await node.createEntry(`${TD}/root`, ['unix:uid:0'])
    await node.createEntry(`${TD}/nobody`, [`unix:uid:${NOBODY}`])

    const from = node.agent.logs.lines.length
    const attacker: ChildProcess = spawn(
      py,
      ['-c', ATTACKER, node.agent.socketPath, suid, process.execPath, client],
      {
        cwd: '/',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        stdio: ['ignore', 'pipe', 'pipe'],
        uid: NOBODY,
        gid: NOBODY,
      },
    )
    t.teardown(() => {
      attacker.kill('SIGKILL')
    })
    let stdout = ''
    let stderr = ''
    attacker.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    attacker.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    // The setuid process keeps stdout open: wait for the child's one line, with a deadline.
    const deadline = Date.now() + 30_000
    while (!stdout.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const result = parseRawFetchOutput(stdout)
    t.equal(result.watched_euid, 0, `the process that connected runs as root now (stderr: ${stderr})`)
    t.equal(result.svids, undefined, 'no SVID at all is served on that connection')
    t.equal(result.status, status.PERMISSION_DENIED, 'the call is refused with PERMISSION_DENIED')
    const warned = await node.agent.logs.waitFor(
      (l) => l.level === 'warn' && l.pid === attacker.pid && typeof l.why === 'string',
      'a warn line naming the attacker pid and why',
      10_000,
      from,
    )
    t.match(warned.why, /credentials|uid|executable/, `logged why: ${String(warned.why)}`)
  },
)
