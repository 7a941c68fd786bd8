// Attack family: another uid runs a registered script under an interpreter that was first given
// code of the attacker's (NODE_OPTIONS=--import=evil.mjs, node --import evil.mjs, PYTHONSTARTUP…),
// so the attacker's code runs in a process whose command line names the registered script.
// Real sigil-server + sigil-agent; the attacker runs as nobody (65534) and cannot read the script.
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { type SigilNode, startSigilNode } from '../helpers/agent-process.js'
import { parseRawFetchOutput, type RawFetchResult, writeRawX509Fetch } from '../helpers/raw-x509-fetch.js'

const NOBODY = 65534
const TD = 'spiffe://example.org'

/** Runs `node <args>` (not instrumented by tap) as `uid` with `env`; resolves what it printed. */
function runNode(
  uid: number,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ result: RawFetchResult; stderr: string }> {
  return new Promise((resolve, reject) => {
    // env -u drops tap's NODE_OPTIONS; an attacker's NODE_OPTIONS is set again by env itself.
    const { NODE_OPTIONS, ...rest } = env
    const set = NODE_OPTIONS === undefined ? [] : [`NODE_OPTIONS=${NODE_OPTIONS}`]
    const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', ...set, process.execPath, ...args], {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...rest },
      stdio: ['ignore', 'pipe', 'pipe'],
      uid,
      gid: uid,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', () => {
      clearTimeout(timer)
      resolve({ result: parseRawFetchOutput(stdout), stderr })
    })
  })
}

/** An entry whose only selector is the script (the server may ask for --allow-script-only). */
async function createScriptOnlyEntry(node: SigilNode, spiffeId: string, script: string): Promise<void> {
  try {
    await node.createEntry(spiffeId, [`proc:script:${script}`])
  } catch (err) {
    if (!/allow-script-only/.test(String(err))) throw err
    await node.createEntry(spiffeId, [`proc:script:${script}`], ['--allow-script-only'])
  }
}

const isRoot = process.getuid?.() === 0
const PY = '/usr/bin/python3'

t.test(
  'preloading code into a registered node script as another uid gets no SVID',
  { skip: isRoot ? false : 'needs root: the attacker runs as uid 65534' },
  async (t) => {
    const node = await startSigilNode(t)
    // /srv-like: a root-owned dir anyone can search; the script is root-only (0600).
    const srv = join(node.dir, 'srv')
    mkdirSync(srv, { mode: 0o755 })
    chmodSync(srv, 0o755)
    const registered = realpathSync(writeRawX509Fetch(join(srv, 'registered-script.mjs'), 0o600))
    const evil = writeRawX509Fetch(join(node.dir, 'evil.mjs'))
    await createScriptOnlyEntry(node, `${TD}/registered`, registered)
    const socket = { SIGIL_ATTACK_SOCKET: node.agent.socketPath }

    const owner = await runNode(0, [registered], socket)
    t.same(
      owner.result.svids?.map((s) => s.spiffe_id),
      [`${TD}/registered`],
      `control: the script run plainly by its owner is served (stderr: ${owner.stderr})`,
    )

    const attacks: [string, string[], Record<string, string>][] = [
      ['NODE_OPTIONS=--import', [registered], { NODE_OPTIONS: `--import=${evil}` }],
      ['node --import <evil> <script>', ['--import', evil, registered], {}],
    ]
    for (const [what, args, env] of attacks) {
      const { result, stderr } = await runNode(NOBODY, args, { ...socket, ...env })
      t.not(
        result.status,
        -1,
        `${what}: the injected code ran and called the agent (${result.error ?? ''} ${stderr.slice(0, 300)})`,
      )
      t.equal(result.svids, undefined, `${what}: no SVID`)
      t.equal(result.status, status.PERMISSION_DENIED, `${what}: PERMISSION_DENIED`)
    }
  },
)

/**
 * sitecustomize.py, imported by python before the main script: connects to the agent from this
 * process and lets a node child ask for SVIDs on that connection, then exits.
 */
const SITECUSTOMIZE = `
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(os.environ['SIGIL_ATTACK_SOCKET_PATH'])
pid = os.fork()
if pid == 0:
    os.set_inheritable(s.fileno(), True)
    env = {'PATH': os.environ['PATH'], 'SIGIL_ATTACK_FD': str(s.fileno())}
    os.execve(os.environ['SIGIL_NODE'], [os.environ['SIGIL_NODE'], os.environ['SIGIL_CLIENT']], env)
os.waitpid(pid, 0)
os._exit(0)
`

t.test(
  'PYTHONPATH=<evil> python3 <registered script> as another uid gets no SVID',
  {
    skip: !isRoot
      ? 'needs root: the attacker runs as uid 65534'
      : existsSync(PY)
        ? false
        : 'no /usr/bin/python3 to preload code with',
  },
  async (t) => {
    const py = PY
    const node = await startSigilNode(t)
    const srv = join(node.dir, 'srv')
    const evil = join(node.dir, 'evil')
    for (const d of [srv, evil]) {
      mkdirSync(d, { mode: 0o755 })
      chmodSync(d, 0o755)
    }
    const registered = join(realpathSync(srv), 'registered.py')
    writeFileSync(registered, 'print("registered")\n', { mode: 0o600 })
    writeFileSync(join(evil, 'sitecustomize.py'), SITECUSTOMIZE, { mode: 0o644 })
    chmodSync(join(evil, 'sitecustomize.py'), 0o644)
    const client = writeRawX509Fetch(join(node.dir, 'client.mjs'))
    await createScriptOnlyEntry(node, `${TD}/registered-py`, registered)
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PYTHONPATH: evil,
      SIGIL_ATTACK_SOCKET_PATH: node.agent.socketPath,
      SIGIL_NODE: process.execPath,
      SIGIL_CLIENT: client,
    }
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(py, [registered], {
        cwd: '/',
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        uid: NOBODY,
        gid: NOBODY,
      })
      let out = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
      })
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString()
      })
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      child.on('error', reject)
      child.on('close', () => {
        clearTimeout(timer)
        resolve({ stdout: out, stderr: err })
      })
    })
    const result = parseRawFetchOutput(stdout)
    t.not(
      result.status,
      -1,
      `the injected code ran and called the agent (${result.error ?? ''} ${stderr.slice(0, 300)})`,
    )
    t.equal(result.svids, undefined, 'no SVID')
    t.equal(result.status, status.PERMISSION_DENIED, 'PERMISSION_DENIED')
  },
)
