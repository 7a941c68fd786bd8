/**
 * Runs the real `sigil-agent` binary (compiled, from dist/) against a real `sigil-server` on temp
 * dirs, and small workload processes (optionally as other uids) that call the Workload API on the
 * agent's socket: what a node runs. `npm test` builds dist/ before tap runs. The agent logs at
 * debug level so tests can wait on what it did (attested, issued, dropped) instead of sleeping.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { splitConcatenatedDer } from '../../certs/x509svid/parse-x509-svid.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import {
  AGENT_BIN,
  type CliRun,
  NODE_COMMAND,
  nodeArgs,
  ROOT,
  type ServerProcess,
  startServerProcess,
} from './server-process.js'

/** One parsed JSON line. */
export type JsonLine = Record<string, unknown>

/** The JSON lines a child writes on a stream, with a way to wait for one. */
export class JsonLines {
  readonly lines: JsonLine[] = []
  #waiters = new Set<() => void>()
  #ended = false

  constructor(stream: Readable | null) {
    let buffered = ''
    stream?.on('data', (d: Buffer) => {
      buffered += d.toString()
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        try {
          this.lines.push(JSON.parse(line) as JsonLine)
        } catch {
          continue
        }
        for (const w of this.#waiters) w()
      }
    })
    stream?.on('close', () => {
      this.#ended = true
      for (const w of this.#waiters) w()
    })
  }

  /** The first line at index ≥ `from` that matches; rejects after `timeoutMs` or when the stream ends. */
  waitFor(match: (line: JsonLine) => boolean, what: string, timeoutMs = 20_000, from = 0): Promise<JsonLine> {
    return new Promise((resolve, reject) => {
      let next = from
      const check = (): boolean => {
        for (; next < this.lines.length; next++) {
          const line = this.lines[next] as JsonLine
          if (match(line)) {
            done()
            resolve(line)
            return true
          }
        }
        if (this.#ended) {
          done()
          reject(new Error(`output ended before: ${what}`))
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(check)
      }
      if (!check()) this.#waiters.add(check)
    })
  }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once('exit', (code) => resolve(code))
  })
}

/** A running `sigil-agent run`. */
export interface AgentProcess {
  readonly child: ChildProcess
  readonly socketPath: string
  readonly dataDir: string
  /** Its JSON log lines (stdout). */
  readonly logs: JsonLines
  stderr(): string
  /** Runs `sigil-agent <args> --socket-path <this agent's socket>` as a separate process. */
  api(...args: string[]): Promise<CliRun>
  /** SIGTERM and wait; resolves the exit code. */
  stop(): Promise<number | null>
}

/**
 * How to start an agent; `joinToken` and `trustBundle` are left out when absent. The join token
 * goes through `SIGIL_JOIN_TOKEN` (never argv: the agent refuses the token as a flag).
 */
export interface AgentProcessOptions {
  readonly serverAddress: string
  readonly dataDir: string
  readonly socketPath: string
  readonly joinToken?: string
  readonly trustBundle?: string
  readonly extraArgs?: readonly string[]
  /** A command the agent runs under (`child` is then the wrapper's process). */
  readonly wrapper?: AgentWrapper
  /** Extra environment variables for the agent (on top of this process's). */
  readonly env?: Readonly<Record<string, string>>
}

/**
 * A wrapper command, e.g. `unshare --pid --fork --mount-proc --kill-child=SIGTERM --` (the agent in
 * its own PID namespace), and the signal `stop()` sends the wrapper (unshare ignores SIGTERM, so
 * SIGKILL, and `--kill-child=SIGTERM` passes a SIGTERM on to the agent).
 */
export interface AgentWrapper {
  readonly command: readonly string[]
  readonly stopSignal: NodeJS.Signals
}

/** Starts `sigil-agent run` (debug logs, 1 s sync) and resolves once it logs its first sync. */
export async function startAgentProcess(opts: AgentProcessOptions): Promise<AgentProcess> {
  const args = [AGENT_BIN, 'run', '--server-address', opts.serverAddress, '--data-dir', opts.dataDir]
  args.push('--socket-path', opts.socketPath, '--log-level', 'debug', '--sync-interval', '1s')
  if (opts.trustBundle) args.push('--trust-bundle', opts.trustBundle)
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env }
  if (opts.joinToken) env.SIGIL_JOIN_TOKEN = opts.joinToken
  const [command, ...prefix] = [...(opts.wrapper?.command ?? []), NODE_COMMAND, ...nodeArgs()]
  const child = spawn(command as string, [...prefix, ...args, ...(opts.extraArgs ?? [])], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const logs = new JsonLines(child.stdout)
  const exited = exitOf(child)
  const agent: AgentProcess = {
    child,
    socketPath: opts.socketPath,
    dataDir: opts.dataDir,
    logs,
    stderr: () => stderr,
    // Not instrumented by tap: code preloaded through NODE_OPTIONS withholds proc:script.
    api: (...a) => runAgentCli([...a, '--socket-path', opts.socketPath], { cwd: ROOT, env: process.env }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null)
        child.kill(opts.wrapper?.stopSignal ?? 'SIGTERM')
      return exited
    },
  }
  try {
    await logs.waitFor((l) => l.msg === 'agent synced with the server', 'agent synced', 30_000)
  } catch (err) {
    await agent.stop()
    throw new Error(`${(err as Error).message}; agent stderr: ${stderr}`)
  }
  return agent
}

/** Runs the compiled `sigil-agent` CLI as `uid`/`gid` (PATH only in its environment). */
export function runAgentCliAs(uid: number, gid: number, args: readonly string[]): Promise<CliRun> {
  return runAgentCli(args, { cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, uid, gid })
}

/** Runs the compiled `sigil-agent` CLI uninstrumented (`NODE_COMMAND`, see server-process.ts). */
function runAgentCli(
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE_COMMAND, nodeArgs(AGENT_BIN, ...args), {
      ...opts,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A free TCP port on 127.0.0.1 (for a server that must come back on the same port). */
export { freePort } from '../../scripts/lib/postgres-server.js'

/** A server and one attested agent on one temp dir (mode 0755, so other uids reach the socket). */
export interface SigilNode {
  readonly dir: string
  readonly server: ServerProcess
  readonly agent: AgentProcess
  /** `sigil-server bundle show` output, as a file. */
  readonly bundlePath: string
  /** The agent's SPIFFE ID (the parent of workload entries). */
  readonly agentId: string
  /** Registers a workload entry under the agent and waits until the agent has synced it. */
  createEntry(spiffeId: string, selectors: readonly string[], extraArgs?: readonly string[]): Promise<void>
}

/** Starts a server and an agent (joined with a fresh token); both stop and the dir goes at teardown. */
export async function startSigilNode(
  t: { teardown(fn: () => unknown): void },
  opts: {
    serverArgs?: readonly string[]
    /** Extra environment variables for the server (e.g. SIGIL_DATASTORE, which may hold a password). */
    serverEnv?: Readonly<Record<string, string>>
    agentArgs?: readonly string[]
    agentWrapper?: AgentWrapper
    /** The server's trust domain (default example.org). */
    trustDomain?: string
  } = {},
): Promise<SigilNode> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-'))
  chmodSync(dir, 0o755)
  const stoppers: (() => Promise<unknown>)[] = []
  t.teardown(async () => {
    for (const stop of stoppers.reverse()) await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  const td = opts.trustDomain ?? 'example.org'
  const server = await startServerProcess(
    join(dir, 's'),
    [...(opts.trustDomain ? ['--trust-domain', td] : []), ...(opts.serverArgs ?? [])],
    { ...opts.serverEnv },
  )
  stoppers.push(() => server.stop())
  const agentId = `spiffe://${td}/node1`
  const token = await server.cli('token', 'generate', '--spiffe-id', agentId)
  const bundle = await server.cli('bundle', 'show')
  if (token.code !== 0 || bundle.code !== 0)
    throw new Error(`server CLI failed: ${token.stderr}${bundle.stderr}`)
  const bundlePath = join(dir, 'bundle.pem')
  writeFileSync(bundlePath, bundle.stdout)
  const agent = await startAgentProcess({
    serverAddress: server.agentApiAddress,
    dataDir: join(dir, 'a'),
    socketPath: join(dir, 'api', 'agent.sock'),
    joinToken: token.stdout.trim(),
    trustBundle: bundlePath,
    extraArgs: [...(opts.trustDomain ? ['--trust-domain', td] : []), ...(opts.agentArgs ?? [])],
    ...(opts.agentWrapper ? { wrapper: opts.agentWrapper } : {}),
  })
  stoppers.push(() => agent.stop())
  let entries = 0
  return {
    dir,
    server,
    agent,
    bundlePath,
    agentId,
    async createEntry(spiffeId, selectors, extraArgs = []) {
      const args = ['entry', 'create', '--spiffe-id', spiffeId, '--parent-id', agentId, ...extraArgs]
      for (const s of selectors) args.push('--selector', s)
      const from = agent.logs.lines.length
      const created = await server.cli(...args)
      if (created.code !== 0) throw new Error(`entry create failed: ${created.stderr}`)
      entries++
      const want = entries
      await agent.logs.waitFor(
        (l) => l.msg === 'synced authorized entries' && l.entries === want,
        `agent synced ${want} entries`,
        15_000,
        from,
      )
    },
  }
}

/**
 * A workload script: opens a FetchX509SVID stream with the security header and prints every
 * message as one JSON line (`kind: 'update'`); on a stdin line "fetch" it makes one more call on a
 * new stream (`kind: 'fetch'`), on "jwt" one FetchJWTSVID for audience `db` (`kind: 'jwt'`, `token`); failures print `kind: 'error'` with the gRPC code. It exits when
 * stdin closes, so it stays alive (and keeps its SVIDs) as long as the test wants.
 */
const WORKLOAD_SCRIPT = `import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
const [root, socket] = process.argv.slice(2)
const grpc = createRequire(root + '/package.json')('@grpc/grpc-js')
const { loadWorkloadApi } = await import(pathToFileURL(root + '/dist/proto/loader.js').href)
const client = new (loadWorkloadApi().Client)('unix:' + socket, grpc.credentials.createInsecure())
const print = (o) => process.stdout.write(JSON.stringify({ ...o, received_at: Date.now() }) + '\\n')
const b64 = (b) => Buffer.from(b).toString('base64')
function open(kind) {
  const md = new grpc.Metadata()
  md.set('workload.spiffe.io', 'true')
  const call = client.FetchX509SVID({}, md)
  let cancelled = false
  call.on('data', (msg) => {
    const svids = msg.svids.map((s) => ({ spiffe_id: s.spiffe_id, x509_svid: b64(s.x509_svid), x509_svid_key: b64(s.x509_svid_key), bundle: b64(s.bundle) }))
    print({ kind, svids })
    if (kind === 'fetch') {
      cancelled = true
      call.cancel()
    }
  })
  call.on('error', (err) => {
    if (!cancelled) print({ kind: 'error', of: kind, code: err.code, details: err.details })
  })
  call.on('end', () => cancelled || print({ kind: 'end', of: kind }))
}
function jwt() {
  const md = new grpc.Metadata()
  md.set('workload.spiffe.io', 'true')
  client.FetchJWTSVID({ audience: ['db'] }, md, (err, res) =>
    err ? print({ kind: 'error', of: 'jwt', code: err.code, details: err.details }) : print({ kind: 'jwt', token: res.svids[0].svid }))
}
open('update')
createInterface({ input: process.stdin })
  .on('line', (line) => (line === 'fetch' ? open('fetch') : line === 'jwt' && jwt()))
  .on('close', () => {
    client.close()
    process.exit(0)
  })
`

/** Writes the workload script as `<dir>/<name>` (mode 0644) and returns its real path. */
export function writeWorkloadScript(dir: string, name: string): string {
  const path = join(dir, name)
  writeFileSync(path, WORKLOAD_SCRIPT, { mode: 0o644 })
  chmodSync(path, 0o644)
  return realpathSync(path)
}

/** One X509-SVID as the workload script prints it (base64 DER). */
export interface PrintedSvid {
  readonly spiffe_id: string
  readonly x509_svid: string
  readonly x509_svid_key: string
  readonly bundle: string
}

/** What a test checks about one printed X509-SVID. */
export interface SvidFacts {
  readonly spiffeId: string
  /** The URI SAN of the leaf. */
  readonly uriSan: string
  readonly serial: string
  readonly notBefore: number
  readonly notAfter: number
  /** SPKI of the leaf, base64 (tells keys apart). */
  readonly publicKey: string
  /** True when the private key sent with the SVID belongs to its leaf. */
  readonly keyMatches: boolean
  readonly chainPem: string
  readonly bundlePem: string
}

/** Decodes one printed SVID. */
export function svidFacts(s: PrintedSvid): SvidFacts {
  const chain = splitConcatenatedDer(Buffer.from(s.x509_svid, 'base64'))
  const leaf = new X509Certificate(chain[0] ?? Buffer.alloc(0))
  const key = createPrivateKey({ key: Buffer.from(s.x509_svid_key, 'base64'), format: 'der', type: 'pkcs8' })
  return {
    spiffeId: s.spiffe_id,
    uriSan: leaf.subjectAltName ?? '',
    serial: leaf.serialNumber.toLowerCase(),
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    publicKey: leaf.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    keyMatches: leaf.checkPrivateKey(key),
    chainPem: certificatesToPem(chain),
    bundlePem: certificatesToPem(splitConcatenatedDer(Buffer.from(s.bundle, 'base64'))),
  }
}

/** The SVIDs of one printed `update`/`fetch` line. */
export function printedSvids(line: JsonLine): SvidFacts[] {
  return (line.svids as PrintedSvid[]).map(svidFacts)
}

/** A running workload script. */
export interface Workload {
  readonly child: ChildProcess
  readonly pid: number
  readonly output: JsonLines
  /** The next line of `kind` ('update', 'fetch', 'error', 'end') after index `from`. */
  next(kind: string, timeoutMs?: number, from?: number): Promise<JsonLine>
  /** Asks for one more FetchX509SVID on a new stream; resolves its first answer or error. */
  fetch(timeoutMs?: number): Promise<JsonLine>
  /** Closes stdin and waits for the exit. */
  stop(): Promise<number | null>
}

/** Starts `node <script> <ROOT> <socket>`, as `uid`/`gid` when given; stopped at teardown. */
export function startWorkload(
  t: { teardown(fn: () => unknown): void },
  opts: { script: string; socketPath: string; uid?: number; gid?: number },
): Workload {
  const ids = opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid ?? opts.uid }
  const child = spawn(NODE_COMMAND, nodeArgs(opts.script, ROOT, opts.socketPath), {
    cwd: '/',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['pipe', 'pipe', 'inherit'],
    ...ids,
  })
  const exited = exitOf(child)
  const output = new JsonLines(child.stdout)
  const stop = () => {
    child.stdin?.end()
    return exited
  }
  t.teardown(async () => {
    child.stdin?.end()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  })
  const next = (kind: string, timeoutMs = 20_000, from = 0) =>
    output.waitFor((l) => l.kind === kind || (kind !== 'error' && l.kind === 'error'), kind, timeoutMs, from)
  return {
    child,
    pid: child.pid ?? -1,
    output,
    next,
    fetch: (timeoutMs = 20_000) => {
      const from = output.lines.length
      child.stdin?.write('fetch\n')
      return output.waitFor((l) => l.kind === 'fetch' || l.of === 'fetch', 'fetch answer', timeoutMs, from)
    },
    stop,
  }
}

/** Runs `openssl verify -attime <atMs> -CAfile <bundle> <leaf>` on PEM files; resolves its output. */
export function opensslVerify(bundlePem: string, leafPem: string, atMs: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-v-'))
  writeFileSync(join(dir, 'bundle.pem'), bundlePem)
  writeFileSync(join(dir, 'leaf.pem'), leafPem)
  const args = ['verify', '-x509_strict', '-attime', String(Math.floor(atMs / 1000))]
  args.push('-CAfile', join(dir, 'bundle.pem'), join(dir, 'leaf.pem'))
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true })
      if (err) reject(new Error(`openssl verify failed: ${stdout}${stderr}`))
      else resolve(stdout)
    })
  })
}
