// `npm start` (scripts/start.ts): server + agent + an entry for the current user, in one
// command; an SVID is served to `sigil-agent api fetch x509`; Ctrl-C stops both; a
// second run re-uses the state.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { AGENT_BIN, ROOT, runBin, SERVER_BIN, shortTempDir } from '../helpers/server-process.js'

const START = join(ROOT, 'dist/scripts/start.js')

function startSigil(cwd: string, socketPath: string) {
  const child = spawn(process.execPath, [START], {
    cwd,
    env: {
      ...process.env,
      SIGIL_AGENT_API_ADDRESS: '127.0.0.1:0',
      SIGIL_BUNDLE_ENDPOINT_ADDRESS: '127.0.0.1:0',
      SIGIL_SOCKET_PATH: socketPath,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start not ready in 60s:\n${out}`)), 60_000)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer)
        resolve(out)
      }
    })
    child.on('exit', () => reject(new Error(`npm start exited early:\n${out}`)))
  })
  return { child, ready, exited, output: () => out }
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
    const fetched = await runBin(AGENT_BIN, ['api', 'fetch', 'x509', '--output', 'json'], {
      env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: `unix://${socketPath}` },
    })
    t.equal(fetched.code, 0, fetched.stderr)
    t.match(fetched.stdout, `spiffe://example.org/dev/uid-${uid}`)
    const count = await runBin(SERVER_BIN, ['entry', 'count', '--output', 'json'], { cwd })
    t.equal(count.code, 0, count.stderr)
    t.match(count.stdout, /"count":\s*1\b/, `round ${round}: one entry, not a duplicate`)
    sigil.child.kill('SIGINT')
    t.equal(await sigil.exited, 0, `round ${round}: Ctrl-C stops both cleanly`)
    t.match(sigil.output(), /stopped\./)
  }
})
