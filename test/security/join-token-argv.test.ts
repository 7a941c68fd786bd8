// Attack family: a join token on the agent's command line. Any local user can read
// /proc/<pid>/cmdline of every process, so a token passed as `--join-token T` can be copied and
// redeemed first by another uid, which then receives the SVIDs of every entry parented to that
// node. The agent refuses the token in argv (exit 2, naming the alternatives), reads it from
// --join-token-file or SIGIL_JOIN_TOKEN instead, and no script or doc passes it in argv.
import { spawn } from 'node:child_process'
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { startAgentProcess } from '../helpers/agent-process.js'
import { AGENT_BIN, ROOT, runBinWithin, shortTempDir, startServerProcess } from '../helpers/server-process.js'

const NOBODY = 65534
const isRoot = process.getuid?.() === 0

/** A server with a fresh join token and its bundle on disk. */
async function serverWithToken(t: Test) {
  const dir = shortTempDir(t)
  chmodSync(dir, 0o755)
  const server = await startServerProcess(join(dir, 's'))
  t.teardown(() => server.stop())
  const token = await server.cli('token', 'generate', '--spiffe-id', 'spiffe://example.org/node1')
  const bundle = await server.cli('bundle', 'show')
  t.equal(token.code, 0, token.stderr)
  const bundlePath = join(dir, 'bundle.pem')
  writeFileSync(bundlePath, bundle.stdout)
  return { dir, server, token: token.stdout.trim(), bundlePath }
}

/** Reads a file as uid 65534 with cat; resolves what it printed (stdout + stderr) and its exit code. */
function catAsNobody(path: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/cat', [path], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, out }))
  })
}

// Attack: the operator passes `--join-token T`; another uid would copy T from /proc/<pid>/cmdline.
t.test('a join token in argv is refused with exit 2 before the agent attests', async (t) => {
  const { dir, server, token, bundlePath } = await serverWithToken(t)
  for (const form of [['--join-token', token], [`--join-token=${token}`]]) {
    const r = await runBinWithin(
      AGENT_BIN,
      [
        'run',
        '--server-address',
        server.agentApiAddress,
        '--trust-bundle',
        bundlePath,
        '--data-dir',
        join(dir, 'a'),
        '--socket-path',
        join(dir, 'api.sock'),
        ...form,
      ],
      15_000,
    )
    if (r.timedOut) {
      t.fail(`the agent started with ${form[0]?.split('=')[0]} in argv instead of exiting 2`)
      continue
    }
    t.equal(r.code, 2, `${form[0]?.split('=')[0]}: exit 2`)
    t.match(r.stderr, /--join-token-file/, 'names --join-token-file')
    t.match(r.stderr, /SIGIL_JOIN_TOKEN/, 'names SIGIL_JOIN_TOKEN')
    t.notOk(r.stderr.includes(token) || r.stdout.includes(token), 'the token is not echoed')
  }
  const agents = await server.cli('agent', 'list', '--output', 'json')
  t.notMatch(agents.stdout, /node1/, 'nobody attested with the token')
})

// Attack: another uid reads the running agent's cmdline and environ while it holds a token from a file.
t.test(
  '--join-token-file: the token is in neither the cmdline nor anything nobody can read',
  { skip: isRoot ? false : 'needs root to run the reader as uid 65534' },
  async (t) => {
    const { dir, server, token, bundlePath } = await serverWithToken(t)
    const tokenFile = join(dir, 'join-token')
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 })
    const agent = await startAgentProcess({
      serverAddress: server.agentApiAddress,
      dataDir: join(dir, 'a'),
      socketPath: join(dir, 'api', 'agent.sock'),
      trustBundle: bundlePath,
      extraArgs: ['--join-token-file', tokenFile],
    })
    t.teardown(() => agent.stop())
    const pid = agent.child.pid
    const cmdline = await catAsNobody(`/proc/${pid}/cmdline`)
    t.equal(cmdline.code, 0, 'nobody can read the cmdline (that is the exposure)')
    t.notOk(cmdline.out.includes(token), 'the token is not in /proc/<pid>/cmdline')
    t.notOk((await catAsNobody(`/proc/${pid}/environ`)).out.includes(token), 'nor in its environ')
    t.not((await catAsNobody(tokenFile)).code, 0, 'nobody cannot read the 0600 token file')
    t.notOk(agent.stderr().includes(token), 'the token is not on stderr')
    t.notOk(JSON.stringify(agent.logs.lines).includes(token), 'the token is not logged')
    t.notMatch(agent.stderr(), /WARNING.*join-token-file/, 'a 0600 file draws no warning')
  },
)

// Attack: another uid reads the token from a group/world-readable token file.
t.test(
  '--join-token-file readable by other users: the agent warns (without the token) and joins',
  async (t) => {
    const { dir, server, token, bundlePath } = await serverWithToken(t)
    const tokenFile = join(dir, 'join-token')
    writeFileSync(tokenFile, token)
    chmodSync(tokenFile, 0o644)
    const agent = await startAgentProcess({
      serverAddress: server.agentApiAddress,
      dataDir: join(dir, 'a'),
      socketPath: join(dir, 'api', 'agent.sock'),
      trustBundle: bundlePath,
      extraArgs: ['--join-token-file', tokenFile],
    })
    t.teardown(() => agent.stop())
    t.match(agent.stderr(), /WARNING/)
    t.match(agent.stderr(), tokenFile)
    t.match(agent.stderr(), /chmod 600/)
    t.notOk(agent.stderr().includes(token), 'the warning does not show the token')
  },
)

// Attack: another uid reads the token from the agent's environment (it cannot: environ is owner-only).
t.test('SIGIL_JOIN_TOKEN: the agent joins and other uids cannot read the token', async (t) => {
  const { dir, server, token, bundlePath } = await serverWithToken(t)
  const agent = await startAgentProcess({
    serverAddress: server.agentApiAddress,
    dataDir: join(dir, 'a'),
    socketPath: join(dir, 'api', 'agent.sock'),
    trustBundle: bundlePath,
    env: { SIGIL_JOIN_TOKEN: token },
  })
  t.teardown(() => agent.stop())
  if (isRoot) {
    const pid = agent.child.pid
    t.notOk((await catAsNobody(`/proc/${pid}/cmdline`)).out.includes(token), 'not in the cmdline')
    t.notOk((await catAsNobody(`/proc/${pid}/environ`)).out.includes(token), 'environ is owner-only')
  }
  t.notOk(JSON.stringify(agent.logs.lines).includes(token), 'the token is not logged')
})

// Attack: a script or doc teaches operators to put the token in argv, so it leaks anyway.
t.test(
  'npm start, the demo, the bench, the test helpers and the README pass no join token in argv',
  async (t) => {
    const files = ['README.md', 'scripts/start.ts', 'test/helpers/agent-process.ts']
    for (const sub of ['scripts/demo', 'scripts/bench', 'scripts/examples']) {
      for (const f of readdirSync(join(ROOT, sub))) {
        if (statSync(join(ROOT, sub, f)).isFile()) files.push(join(sub, f))
      }
    }
    for (const f of files) {
      const text = readFileSync(join(ROOT, f), 'utf8')
      if (f.endsWith('.ts'))
        t.notMatch(text, /['"`]--join-token['"`]/, `${f}: no '--join-token' argv element`)
      t.notMatch(text, /--join-token[ =](?!file)\S/, `${f}: no --join-token <value> example`)
    }
  },
)
