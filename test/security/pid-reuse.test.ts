// Attack family: PID reuse. The agent identifies a caller by the PID the kernel reports for the
// connection (SO_PEERCRED) and reads /proc/<pid>; an attacker wants that PID to belong to a more
// privileged process by the time the agent looks. Real sigil-server and sigil-agent processes; the
// agent runs in its own PID namespace (`unshare --pid`) so the test can hand a chosen PID to the
// next process (/proc/sys/kernel/ns_last_pid of that namespace) and recycle PIDs for real,
// without racing the rest of the machine. Workloads enter the namespace with `nsenter`.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmodSync, closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { type JsonLine, JsonLines, startSigilNode, writeWorkloadScript } from '../helpers/agent-process.js'
import { ROOT } from '../helpers/server-process.js'
import { pollUntil } from './harness.js'

const TD = 'spiffe://example.org'
const NOBODY = 65534
const ATTEMPTS = 5

/**
 * The attacker: connects to the Workload API (without reading), hands the connected socket to a
 * child (the keeper, as its fd 3) and stays alive until killed. The kernel's peer credentials of
 * the connection name the attacker's PID for as long as the connection lives.
 */
const ATTACKER = `import { spawn } from 'node:child_process'
import { connect } from 'node:net'
const [socket, keeper, root] = process.argv.slice(2)
const s = connect(socket, () => {
  const c = spawn(process.execPath, [keeper, root], { stdio: ['inherit', 'inherit', 'inherit', s] })
  c.on('spawn', () => process.stdout.write(JSON.stringify({ kind: 'attacker', pid: process.pid }) + '\\n'))
})
s.pause() // never read: the keeper owns the connection's bytes
s.on('error', (e) => { process.stdout.write(JSON.stringify({ kind: 'error', err: String(e.code) }) + '\\n'); process.exit(1) })
setInterval(() => {}, 1 << 30)
`

/**
 * The keeper: speaks HTTP/2 + gRPC on the inherited connection (fd 3). On each stdin line "fetch"
 * it opens one FetchX509SVID stream and prints the first answer: the SPIFFE IDs, or the status.
 */
const KEEPER = `import http2 from 'node:http2'
import { Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
const [root] = process.argv.slice(2)
const { loadWorkloadApi } = await import(pathToFileURL(root + '/dist/proto/loader.js').href)
const decode = loadWorkloadApi().Client.service.FetchX509SVID.responseDeserialize
const print = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
const session = http2.connect('http://localhost', { createConnection: () => new Socket({ fd: 3, readable: true, writable: true }) })
let ended = ''
session.on('error', (e) => { ended = String(e.code ?? e) })
session.on('close', () => { ended ||= 'closed' })
function fetch() {
  if (session.closed || session.destroyed) return print({ kind: 'fetch', status: 'session ' + (ended || 'closed'), ids: [] })
  const st = session.request({ ':method': 'POST', ':path': '/SpiffeWorkloadAPI/FetchX509SVID', 'content-type': 'application/grpc', te: 'trailers', 'workload.spiffe.io': 'true' })
  let buf = Buffer.alloc(0)
  let done = false
  const finish = (o) => { if (done) return; done = true; if (!st.closed) st.close(http2.constants.NGHTTP2_CANCEL); print({ kind: 'fetch', ...o }) }
  st.on('response', (h) => { if (h['grpc-status'] !== undefined) finish({ status: Number(h['grpc-status']), message: h['grpc-message'], ids: [] }) })
  st.on('trailers', (h) => finish({ status: Number(h['grpc-status']), message: h['grpc-message'], ids: [] }))
  st.on('data', (d) => {
    buf = Buffer.concat([buf, d])
    if (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
      const msg = decode(buf.subarray(5, 5 + buf.readUInt32BE(1)))
      finish({ status: 0, ids: msg.svids.map((s) => s.spiffe_id) })
    }
  })
  st.on('error', (e) => finish({ status: 'stream ' + String(e.code ?? e), ids: [] }))
  st.on('close', () => finish({ status: 'stream closed ' + st.rstCode, ids: [] }))
  st.end(Buffer.from([0, 0, 0, 0, 0]))
}
print({ kind: 'keeper', pid: process.pid })
createInterface({ input: process.stdin }).on('line', (l) => l === 'fetch' && fetch()).on('close', () => process.exit(0))
`

if (process.getuid?.() !== 0 || !existsSync('/usr/bin/unshare') || !existsSync('/usr/bin/nsenter')) {
  t.plan(0, 'skip: needs root, unshare and nsenter (util-linux) for a PID namespace')
} else {
  let innerAgent = 0 // the agent's host PID (the wrapper's child), PID 1 of the namespace
  // Registered first, so it runs before the node's own teardown: SIGTERM the agent itself and
  // wait until it is gone (its namespace, and every workload in it, go with it).
  t.teardown(async () => {
    if (innerAgent === 0 || !existsSync(`/proc/${innerAgent}`)) return
    process.kill(innerAgent, 'SIGTERM')
    await pollUntil(
      () => (existsSync(`/proc/${innerAgent}`) ? undefined : true),
      'the namespaced agent to exit',
    )
  })
  const node = await startSigilNode(t, {
    agentWrapper: {
      command: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child=SIGTERM', '--'],
      stopSignal: 'SIGKILL',
    },
  })
  innerAgent = childrenOf(node.agent.child.pid ?? 0)[0] ?? 0
  if (nsPidOf(innerAgent) !== 1) throw new Error('the agent is not PID 1 of its own namespace')
  const scripts = join(node.dir, 'scripts')
  execFileSync('mkdir', ['-m', '0755', scripts])
  const attacker = writeScript(scripts, 'attacker.mjs', ATTACKER)
  const keeper = writeScript(scripts, 'keeper.mjs', KEEPER)
  const workload = writeWorkloadScript(scripts, 'workload.mjs')
  await node.createEntry(`${TD}/root-victim`, ['unix:uid:0'])
  await node.createEntry(`${TD}/nobody`, [`unix:uid:${NOBODY}`])

  /** A process started inside the agent's PID namespace through nsenter. */
  interface NsProcess {
    readonly nsenter: ChildProcess
    readonly hostPid: number
    readonly nsPid: number
    readonly output: JsonLines
    next(kind: string, from?: number): Promise<JsonLine>
    /** SIGKILLs the process (its stdin stays open for any child that inherited it). */
    kill(): Promise<void>
  }

  /**
   * Starts `node <args>` as uid/gid in the namespace, with namespace PID `wantPid` when given;
   * `stdin` is an fd of ours to hand over instead of a pipe (node destroys a child's stdin pipe
   * when the child exits, and the attacker's keeper must keep reading after the attacker exits).
   */
  async function spawnInNs(
    args: string[],
    ids: { uid: number; gid: number },
    opts: { wantPid?: number; stdin?: number } = {},
  ): Promise<NsProcess> {
    const { wantPid } = opts
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (wantPid !== undefined) {
        execFileSync('nsenter', [
          '-t',
          String(innerAgent),
          '-p',
          '-m',
          '--',
          'sh',
          '-c',
          `echo ${wantPid - 1} > /proc/sys/kernel/ns_last_pid`,
        ])
      }
      const nsenter = spawn(
        'nsenter',
        ['-t', String(innerAgent), '-p', '-m', '-S', String(ids.uid), '-G', String(ids.gid), '--'].concat([
          '/usr/bin/env',
          '-u',
          'NODE_OPTIONS',
          process.execPath,
          ...args,
        ]),
        {
          cwd: '/',
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
          stdio: [opts.stdin ?? 'pipe', 'pipe', 'inherit'],
        },
      )
      const exited = new Promise<void>((r) => nsenter.once('exit', () => r()))
      const hostPid = await pollUntil(() => childrenOf(nsenter.pid ?? 0)[0], 'nsenter to fork')
      const proc: NsProcess = {
        nsenter,
        hostPid,
        nsPid: nsPidOf(hostPid),
        output: new JsonLines(nsenter.stdout),
        next: (kind, from = 0) => proc.output.waitFor((l) => l.kind === kind, kind, 20_000, from),
        kill: async () => {
          // While nsenter runs it has not reaped its child, so hostPid still names that child.
          if (nsenter.exitCode === null && nsenter.signalCode === null) process.kill(hostPid, 'SIGKILL')
          await exited
        },
      }
      t.teardown(async () => {
        await proc.kill()
        nsenter.stdin?.end() // a keeper that inherited it exits on EOF
      })
      if (wantPid === undefined || proc.nsPid === wantPid) return proc
      await proc.kill() // another process took the PID first: try again
    }
    throw new Error(`no process got namespace PID ${wantPid} in ${ATTEMPTS} attempts`)
  }

  // Attack: a uid-65534 process connects, passes the connection to a child and exits; a root
  // process is then given its PID, and the child asks for SVIDs on the old connection.
  t.test(
    'a connection whose process exited never inherits the identity of a root process that reuses its PID',
    async (t) => {
      const fifo = join(scripts, 'keeper.fifo')
      execFileSync('mkfifo', ['-m', '0666', fifo])
      const commands = openSync(fifo, 'r+') // read-write: never blocks, never EOF while we hold it
      const a = await spawnInNs(
        [attacker, node.agent.socketPath, keeper, ROOT],
        { uid: NOBODY, gid: NOBODY },
        { stdin: commands },
      )
      const keeperPid = Number((await a.next('keeper')).pid)
      t.teardown(() => {
        // The keeper was reparented to the namespace's init (the agent) when the attacker exited.
        for (const pid of childrenOf(innerAgent)) if (nsPidOf(pid) === keeperPid) process.kill(pid, 'SIGKILL')
        closeSync(commands)
      })
      await a.next('attacker')
      const fetch = async () => {
        const from = a.output.lines.length
        writeSync(commands, 'fetch\n')
        return a.next('fetch', from)
      }
      const before = await fetch()
      t.same(
        before.ids,
        [`${TD}/nobody`],
        'control: while the attacker lives, the connection is the attacker’s',
      )

      await a.kill() // the attacker exits; the keeper still holds the connection
      t.equal(existsSync(`/proc/${a.hostPid}`), false, 'the attacker is gone')
      const victim = await spawnInNs(
        [workload, ROOT, node.agent.socketPath],
        { uid: 0, gid: 0 },
        { wantPid: a.nsPid },
      )
      t.equal(victim.nsPid, a.nsPid, `a root process now has the attacker's PID ${a.nsPid}`)
      const victimUpdate = await victim.next('update')
      t.same(
        (victimUpdate.svids as { spiffe_id: string }[]).map((s) => s.spiffe_id),
        [`${TD}/root-victim`],
        'the root process at that PID does hold the root identity (so the attack has a prize)',
      )

      const after = await fetch()
      t.notOk(
        (after.ids as string[]).includes(`${TD}/root-victim`),
        `the old connection gets no root SVID (${JSON.stringify(after.status)})`,
      )
      t.equal(after.status, 7, 'the call is refused with PermissionDenied (7)')
      const failed = node.agent.logs.lines.find(
        (l) => l.msg === 'workload attestation failed; call refused' && l.pid === a.nsPid,
      )
      t.ok(failed, `the agent logs the failed attestation of PID ${a.nsPid}: ${String(failed?.why)}`)
    },
  )

  // Attack: a root process fetches its SVID and exits; a uid-65534 process is given the same PID
  // and connects anew, hoping the agent still has the root process's identity under that PID.
  t.test('a new process on a recycled PID gets its own identity, not the previous holder’s', async (t) => {
    const root = await spawnInNs([workload, ROOT, node.agent.socketPath], { uid: 0, gid: 0 })
    const rootUpdate = await root.next('update')
    t.same(
      (rootUpdate.svids as { spiffe_id: string }[]).map((s) => s.spiffe_id),
      [`${TD}/root-victim`],
      'root first',
    )
    await root.kill()
    const nobody = await spawnInNs(
      [workload, ROOT, node.agent.socketPath],
      { uid: NOBODY, gid: NOBODY },
      { wantPid: root.nsPid },
    )
    t.equal(nobody.nsPid, root.nsPid, `uid 65534 now has PID ${root.nsPid}`)
    const update = await nobody.next('update')
    t.same(
      (update.svids as { spiffe_id: string }[]).map((s) => s.spiffe_id),
      [`${TD}/nobody`],
      'it gets only its own identity',
    )
  })
}

function writeScript(dir: string, name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  chmodSync(path, 0o644)
  return path
}

/** Host PIDs of the direct children of `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
  } catch {
    return []
  }
}

/** The PID of host process `hostPid` in its innermost PID namespace. */
function nsPidOf(hostPid: number): number {
  const line = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${hostPid}/status`, 'utf8'))?.[1] ?? ''
  return Number(line.trim().split(/\s+/).at(-1))
}
