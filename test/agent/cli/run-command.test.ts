// `sigil-agent run` end to end, in-process: the real agent (its Workload API on a temp socket)
// against a real in-process server, driven only through the CLI.
import { spawnSync } from 'node:child_process'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { type ServerKit, startServerKit, tempDir } from '../sync/server-kit.js'
import { type CliResult, cli } from './cli-io.js'

const uid = process.getuid?.() ?? 0

/** Runs `sigil-agent run`; a join token goes through SIGIL_JOIN_TOKEN (argv refuses it). */
function startRun(kit: ServerKit, dir: string, extra: string[], joinToken?: string) {
  const stop = new AbortController()
  const socket = join(dir, 'public', 'api.sock')
  const running: Promise<CliResult> = cli(
    [
      'run',
      '--server-address',
      kit.address,
      '--trust-domain',
      'example.org',
      '--socket-path',
      socket,
      '--data-dir',
      join(dir, 'data'),
      '--sync-interval',
      '200ms',
      '--log-level',
      'error',
      ...extra,
    ],
    { signal: stop.signal, env: joinToken ? { SIGIL_JOIN_TOKEN: joinToken } : {} },
  )
  return { stop, socket, running }
}

async function untilServing(socket: string, running: Promise<CliResult>): Promise<void> {
  let exited: CliResult | undefined
  void running.then((r) => {
    exited = r
  })
  for (let i = 0; i < 300; i++) {
    if (exited) throw new Error(`the agent exited ${exited.code}: ${exited.stderr}`)
    const r = await cli(['api', 'fetch', 'x509', '--socket-path', socket, '--timeout', '2s'])
    if (r.code === 0) return
    await sleep(100)
  }
  throw new Error('the agent never served an X509-SVID')
}

t.test('run: attest, serve, fetch and validate; restart reuses the stored SVID', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  const dir = tempDir(t)
  const bundlePem = join(dir, 'bundle.pem')
  writeFileSync(bundlePem, certificatesToPem([...kit.bundle().x509Authorities]))
  await kit.createJoinToken('run-token')
  const agentId = 'spiffe://example.org/sigil/agent/join_token/run-token'
  await kit.createEntry('spiffe://example.org/test-runner', agentId, [`unix:uid:${uid}`])

  const first = startRun(kit, dir, ['--trust-bundle', bundlePem], 'run-token')
  await untilServing(first.socket, first.running)
  const out = join(dir, 'svids')
  const fetched = await cli(['api', 'fetch', 'x509', '--socket-path', first.socket, '--write', out])
  t.equal(fetched.code, 0, fetched.stderr)
  t.match(fetched.stdout, /SPIFFE ID:\s+spiffe:\/\/example\.org\/test-runner/)
  const v = spawnSync(
    '/usr/bin/openssl',
    ['verify', '-CAfile', join(out, 'bundle.0.pem'), join(out, 'svid.0.pem')],
    {
      encoding: 'utf8',
    },
  )
  t.equal(v.status, 0, `openssl verify: ${v.stdout}${v.stderr}`)
  t.equal(statSync(join(out, 'svid.0.key')).mode & 0o777, 0o600)

  const jwt = await cli([
    'api',
    'fetch',
    'jwt',
    '--audience',
    'spiffe://example.org/db',
    '--socket-path',
    first.socket,
  ])
  t.equal(jwt.code, 0, jwt.stderr)
  const token = jwt.stdout.trim()
  const valid = await cli(
    [
      'api',
      'validate',
      'jwt',
      '--audience',
      'spiffe://example.org/db',
      '--svid',
      '-',
      '--socket-path',
      first.socket,
    ],
    { stdin: token },
  )
  t.equal(valid.code, 0, valid.stderr)
  t.match(valid.stdout, /spiffe:\/\/example\.org\/test-runner/)
  const invalid = await cli(
    [
      'api',
      'validate',
      'jwt',
      '--audience',
      'spiffe://example.org/else',
      '--svid',
      '-',
      '--socket-path',
      first.socket,
    ],
    { stdin: token },
  )
  t.equal(invalid.code, 1)
  t.match(invalid.stderr, /not valid/)
  t.equal((await cli(['healthcheck', '--socket-path', first.socket])).code, 0)

  const serial = (await kit.datastore.getAttestedAgent(agentId))?.serialNumber
  first.stop.abort()
  const ended = await first.running
  t.equal(ended.code, 0, ended.stderr)
  t.notOk(existsSync(first.socket), 'the socket is removed on stop')

  // Restart with the same (spent) token: the stored SVID is reused, nothing is re-attested.
  const second = startRun(kit, dir, ['--trust-bundle', bundlePem], 'run-token')
  await untilServing(second.socket, second.running)
  t.equal((await kit.datastore.getAttestedAgent(agentId))?.serialNumber, serial, 'same agent SVID')
  second.stop.abort()
  t.equal((await second.running).code, 0)
})

t.test('run: an evicted agent with a spent token stops with a clear error', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  const dir = tempDir(t)
  await kit.createJoinToken('evicted-token')
  const agentId = 'spiffe://example.org/sigil/agent/join_token/evicted-token'
  await kit.createEntry('spiffe://example.org/x', agentId, [`unix:uid:${uid}`])
  const run = startRun(kit, dir, ['--insecure-bootstrap'], 'evicted-token')
  await untilServing(run.socket, run.running)
  await kit.datastore.deleteAttestedAgent(agentId)
  const r = await run.running
  t.equal(r.code, 1)
  t.match(r.stderr, /WARNING: --insecure-bootstrap/, 'the insecure bootstrap was announced')
  t.match(r.stderr, /refused this agent.*new join token \(--join-token-file or SIGIL_JOIN_TOKEN\)/)
})

t.test('run: configuration problems exit 2 before anything starts', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  const dir = tempDir(t)
  const noBundle = startRun(kit, dir, [], 'whatever')
  const r = await noBundle.running
  t.equal(r.code, 2)
  t.match(r.stderr, /trust-bundle: no trust bundle/)
  t.notOk(existsSync(noBundle.socket))

  const noCredential = startRun(kit, join(dir, 'b'), ['--insecure-bootstrap'])
  const r2 = await noCredential.running
  t.equal(r2.code, 2)
  t.match(r2.stderr, /no node credential is configured/)

  const bad = await cli(['run', '--server-address', 'nonsense'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /server-address/)
  const help = await cli(['run', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /--join-token-file/)

  // Attack: the token in argv, where every local user can read it — refused before anything starts.
  const argv = startRun(kit, join(dir, 'c'), ['--join-token', 'argv-token', '--insecure-bootstrap'])
  const r3 = await argv.running
  t.equal(r3.code, 2)
  t.match(r3.stderr, /--join-token is refused on the command line.*--join-token-file.*SIGIL_JOIN_TOKEN/)
  t.notMatch(r3.stderr, /argv-token/)
  t.notOk(existsSync(argv.socket))
})
