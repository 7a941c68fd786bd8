// Attack family: one local user reaches for another user's identity or for the operator's
// admin API. Real sigil-server and sigil-agent processes; the attacker is a real process run as
// uid 65534 (nobody) next to an entry for uid 0.
import { spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { dirname } from 'node:path'
import t from 'tap'
import {
  printedSvids,
  runAgentCliAs,
  startSigilNode,
  startWorkload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'

const NOBODY = 65534
const TD = 'spiffe://example.org'

if (process.getuid?.() !== 0) {
  t.plan(0, 'skip: needs root (the attacker runs as uid 65534)')
} else {
  const node = await startSigilNode(t)
  const script = writeWorkloadScript(node.dir, 'workload.mjs')
  await node.createEntry(`${TD}/root-only`, ['unix:uid:0'])
  await node.createEntry(`${TD}/nobody`, [`unix:uid:${NOBODY}`])

  // Attack: a uid-65534 process asks the Workload API for SVIDs and hopes to receive uid 0's.
  t.test('a uid-65534 workload gets only its own entry, never uid 0’s', async (t) => {
    const w = startWorkload(t, { script, socketPath: node.agent.socketPath, uid: NOBODY, gid: NOBODY })
    const first = await w.next('update')
    t.equal(first.kind, 'update', `an update (got ${String(first.kind)} ${String(first.details ?? '')})`)
    t.same(
      printedSvids(first).map((s) => s.spiffeId),
      [`${TD}/nobody`],
      'exactly its own SVID',
    )
    const again = await w.fetch()
    t.same(
      printedSvids(again).map((s) => s.spiffeId),
      [`${TD}/nobody`],
      'a second stream on a new call: still only its own',
    )
    await w.stop()
  })

  // Attack: a uid-65534 process names uid 0's SPIFFE ID in a JWT-SVID request.
  t.test('a uid-65534 process asking for uid 0’s JWT-SVID by SPIFFE ID is refused', async (t) => {
    const stolen = await runAgentCliAs(NOBODY, NOBODY, [
      'api',
      'fetch',
      'jwt',
      '--audience',
      'db',
      '--spiffe-id',
      `${TD}/root-only`,
      '--socket-path',
      node.agent.socketPath,
    ])
    t.not(stolen.code, 0, 'the CLI fails')
    t.notMatch(stolen.stdout, /eyJ/, 'no token printed')
    t.match(stolen.stderr, /PERMISSION_DENIED|not authorized|no identity/i, stolen.stderr)
    const own = await runAgentCliAs(NOBODY, NOBODY, [
      'api',
      'fetch',
      'jwt',
      '--audience',
      'db',
      '--socket-path',
      node.agent.socketPath,
    ])
    t.equal(own.code, 0, `its own JWT-SVID still works: ${own.stderr}`)
  })

  // Attack: a uid-65534 process connects to the admin socket to register itself an entry.
  t.test('uid 65534 cannot connect to the admin socket (EACCES)', async (t) => {
    const adminSocket = node.server.adminSocket
    t.equal(statSync(adminSocket).mode & 0o777, 0o600, 'the socket is 0600')
    t.equal(statSync(dirname(adminSocket)).mode & 0o777, 0o700, 'in a 0700 directory')
    const probe = `require('node:net').connect(${JSON.stringify(adminSocket)})
      .on('connect', () => { console.log('CONNECTED'); process.exit(0) })
      .on('error', (e) => { console.log(e.code); process.exit(0) })`
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', probe], {
        cwd: '/',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        uid: NOBODY,
        gid: NOBODY,
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let text = ''
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString()
      })
      child.on('error', reject)
      child.on('close', () => {
        clearTimeout(timer)
        resolve(text.trim())
      })
    })
    t.equal(out, 'EACCES', 'connect() is refused by the file system')
  })
}
