// `npm start` (scripts/start.ts): server + agent + an entry for the current user, in one
// command; an SVID is served to `sigil-agent api fetch x509`; Ctrl-C stops both; a
// second run re-uses the state. Every command the banner prints runs and answers, and the
// README quick start shows the same commands; SIGINT to the npm process alone stops both
// daemons; a busy address is reported with its reason and the SIGIL_* overrides.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { processesMentioning } from '../helpers/processes.js'
import {
  AGENT_BIN,
  NODE_COMMAND,
  nodeArgs,
  ROOT,
  runBin,
  SERVER_BIN,
  shortTempDir,
} from '../helpers/server-process.js'

const START = join(ROOT, 'dist/scripts/start.js')

function overrides(socketPath: string, agentApi = '127.0.0.1:0'): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SIGIL_AGENT_API_ADDRESS: agentApi,
    SIGIL_BUNDLE_ENDPOINT_ADDRESS: '127.0.0.1:0',
    SIGIL_SOCKET_PATH: socketPath,
  }
}

/** Watches a started `npm start` (or start.js): its output, the banner, its exit. */
function watch(child: ChildProcess) {
  let out = ''
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start not ready in 60s:\n${out}`)), 60_000)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer)
        resolve(out)
      }
    })
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.on('exit', () => {
      clearTimeout(timer) // else a start that fails keeps this test process alive for 60 s
      reject(new Error(`npm start exited early:\n${out}`))
    })
  })
  ready.catch(() => {}) // a test that expects an early exit awaits `exited` instead
  return { child, ready, exited, output: () => out }
}

function startSigil(cwd: string, socketPath: string, agentApi?: string) {
  return watch(
    spawn(NODE_COMMAND, nodeArgs(START), {
      cwd,
      env: overrides(socketPath, agentApi),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
}

/** Runs one printed command line as a user would paste it into a shell. */
function shell(command: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', command], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/** The banner's "Try" commands. */
function tryCommands(banner: string): string[] {
  const after = banner.split('Try, in another terminal (from this folder):\n')[1] ?? ''
  return after
    .split('\n\n')[0]!
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

/** The commands of README's quick start block that follow "In another terminal". */
function readmeCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const quick = readme.split('## Quick start')[1]?.split('\n## ')[0] ?? ''
  const block = /In another terminal[\s\S]*?```sh\n([\s\S]*?)```/.exec(quick)?.[1] ?? ''
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean)
}

t.test('npm start serves the current user an SVID, stops on Ctrl-C, and re-uses its state', async (t) => {
  const cwd = shortTempDir(t)
  const socketPath = join(cwd, 'api.sock')
  const uid = process.getuid?.() ?? 0
  for (const round of [1, 2]) {
    const sigil = startSigil(cwd, socketPath)
    t.teardown(() => {
      sigil.child.kill('SIGKILL')
    })
    const banner = await sigil.ready
    t.match(banner, `SPIFFE_ENDPOINT_SOCKET=unix://${socketPath}`, `round ${round}: prints the socket`)
    t.match(banner, /bundle endpoint\s+https:\/\/127\.0\.0\.1:\d+\//)
    t.match(banner, `bundle dev CA     ${join(cwd, '.sigil/server/bundle-endpoint/dev-ca.pem')}`)
    const fetched = await runBin(AGENT_BIN, ['api', 'fetch', 'x509', '--output', 'json'], {
      env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: `unix://${socketPath}` },
    })
    t.equal(fetched.code, 0, fetched.stderr)
    t.match(fetched.stdout, `spiffe://example.org/dev/uid-${uid}`)
    const count = await runBin(SERVER_BIN, ['entry', 'count', '--output', 'json'], { cwd })
    t.equal(count.code, 0, count.stderr)
    t.match(count.stdout, /"count":\s*1\b/, `round ${round}: one entry, not a duplicate`)

    if (round === 1) {
      // Every command the banner prints runs, as printed, from the folder npm start ran in.
      const commands = tryCommands(banner)
      t.equal(commands.length, 4, 'x509, jwt, entry show, curl')
      const [x509, jwt, entries, curl] = await Promise.all(commands.map((c) => shell(c, cwd)))
      t.equal(x509?.code, 0, `${commands[0]}: ${x509?.stderr}`)
      t.match(x509?.stdout, `spiffe://example.org/dev/uid-${uid}`)
      t.equal(jwt?.code, 0, `${commands[1]}: ${jwt?.stderr}`)
      t.match(jwt?.stdout, /^ey[\w-]+\.[\w-]+\.[\w-]+\s*$/, 'one JWT-SVID')
      t.equal(entries?.code, 0, `${commands[2]}: ${entries?.stderr}`)
      t.match(entries?.stdout, `spiffe://example.org/dev/uid-${uid}`)
      t.equal(
        curl?.code,
        0,
        `${commands[3]}: the dev CA verifies https://127.0.0.1:<port>/ (${curl?.stderr})`,
      )
      t.match(JSON.parse(curl?.stdout ?? '{}'), { keys: Array }, 'the SPIFFE bundle')

      // README's quick start shows the same commands (the socket flag and the port aside).
      const printed = commands.map((c) =>
        c
          .replaceAll(`${ROOT}/`, '')
          .replace(` --socket-path ${socketPath}`, '')
          .replace(/https:\/\/127\.0\.0\.1:\d+\//, 'https://127.0.0.1:8443/'),
      )
      t.same(readmeCommands(), printed, 'README quick start = the banner commands')
    }

    sigil.child.kill('SIGINT')
    t.equal(await sigil.exited, 0, `round ${round}: Ctrl-C stops both cleanly`)
    t.match(sigil.output(), /stopped\./)
  }
})

t.test('kill -INT <npm pid> alone (not the group) stops npm start and both daemons', async (t) => {
  // The real package.json start script, run by the real npm, with the dist path made absolute.
  const cwd = shortTempDir(t)
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  const script = String(pkg.scripts.start).replace('dist/', `${ROOT}/dist/`)
  writeFileSync(
    join(cwd, 'package.json'),
    JSON.stringify({ name: 'x', private: true, scripts: { start: script } }),
  )
  const env = overrides(join(cwd, 'api.sock'))
  const unset = nodeArgs().slice(0, -1) // npm is a node script: `env -u NODE_OPTIONS npm start`
  const sigil = watch(
    spawn(NODE_COMMAND, [...unset, 'npm', 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }),
  )
  t.teardown(() => {
    sigil.child.kill('SIGKILL')
    for (const pid of processesMentioning(cwd)) process.kill(pid, 'SIGKILL')
  })
  await sigil.ready
  t.ok(processesMentioning(join(cwd, '.sigil')).length >= 2, 'server and agent run')
  sigil.child.kill('SIGINT') // npm's own pid: what `kill -INT <pid of npm>` does
  t.equal(await sigil.exited, 0, 'npm exits 0')
  t.match(sigil.output(), /stopped\./)
  t.same(processesMentioning(join(cwd, '.sigil')), [], 'no daemon outlives it')
})

t.test('a busy agent API address: the reason and the SIGIL_* overrides to use', async (t) => {
  const cwd = shortTempDir(t)
  const holder = createServer()
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r))
  t.teardown(() => holder.close())
  const address = holder.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const sigil = startSigil(cwd, join(cwd, 'api.sock'), `127.0.0.1:${port}`)
  t.teardown(() => sigil.child.kill('SIGKILL'))
  t.equal(await sigil.exited, 1, 'npm start fails')
  const out = sigil.output()
  t.match(out, `agent API cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`)
  for (const name of ['SIGIL_AGENT_API_ADDRESS', 'SIGIL_BUNDLE_ENDPOINT_ADDRESS', 'SIGIL_SOCKET_PATH']) {
    t.match(out, name, `names ${name}`)
  }
  t.same(processesMentioning(join(cwd, '.sigil')), [], 'nothing left running')
})
