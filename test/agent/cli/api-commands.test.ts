// `sigil-agent api …` and `healthcheck` against a real grpc-js Workload API on a temp socket.
import { spawnSync } from 'node:child_process'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { waitUntil } from '../../helpers/wait-until.js'
import { tempDir } from '../sync/server-kit.js'
import { cli } from './cli-io.js'
import { startFakeWorkloadApi } from './fake-workload-api.js'

function opensslVerify(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('/usr/bin/openssl', ['verify', ...args], { encoding: 'utf8' })
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` }
}

t.test('fetch x509 --write writes files that openssl verifies, the key 0600', async (t) => {
  const dir = tempDir(t)
  const api = await startFakeWorkloadApi(dir, { ids: ['/web', '/admin'] })
  t.teardown(() => api.close())
  const out = join(dir, 'out')
  const r = await cli(['api', 'fetch', 'x509', '--socket-path', api.socketPath, '--write', out])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /Received 2 svids/)
  t.match(r.stdout, /spiffe:\/\/example\.org\/web/)
  for (const i of [0, 1]) {
    const svid = join(out, `svid.${i}.pem`)
    const key = join(out, `svid.${i}.key`)
    const bundle = join(out, `bundle.${i}.pem`)
    const v = opensslVerify(['-CAfile', bundle, svid])
    t.ok(v.ok, `openssl verify -CAfile bundle.${i}.pem svid.${i}.pem: ${v.out}`)
    t.equal(statSync(key).mode & 0o777, 0o600, `svid.${i}.key is 0600`)
    const keyPem = readFileSync(key, 'utf8')
    t.match(keyPem, /^-----BEGIN PRIVATE KEY-----/, 'PKCS#8')
    const cert = new X509Certificate(readFileSync(svid))
    t.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), 'the key belongs to the leaf')
  }
  t.match(new X509Certificate(readFileSync(join(out, 'svid.1.pem'))).subjectAltName, /\/admin/)
  t.same(
    api.calls.map((c) => c.header),
    [['true']],
    'the security header was sent',
  )
})

t.test('fetch x509 writes the leaf first, then intermediates', async (t) => {
  const dir = tempDir(t)
  const api = await startFakeWorkloadApi(dir, { withIntermediate: true })
  t.teardown(() => api.close())
  const out = join(dir, 'out')
  const r = await cli([
    'api',
    'fetch',
    'x509',
    '--socket-path',
    api.socketPath,
    '--write',
    out,
    '--output',
    'json',
  ])
  t.equal(r.code, 0, r.stderr)
  const json = JSON.parse(r.stdout)
  t.equal(json.svids.length, 1)
  t.equal(json.svids[0].spiffe_id, 'spiffe://example.org/web')
  t.equal(json.svids[0].hint, 'internal')
  t.notMatch(r.stdout, /PRIVATE KEY/, 'the key is never printed')
  const pem = readFileSync(join(out, 'svid.0.pem'), 'utf8')
  t.equal(pem.match(/BEGIN CERTIFICATE/g)?.length, 2)
  const [leafPem] = pem.split(/(?<=-----END CERTIFICATE-----\n)/)
  t.match(new X509Certificate(leafPem ?? '').subjectAltName, /spiffe:\/\/example\.org\/web/, 'leaf first')
  const v = opensslVerify([
    '-CAfile',
    join(out, 'bundle.0.pem'),
    '-untrusted',
    join(out, 'svid.0.pem'),
    join(out, 'svid.0.pem'),
  ])
  t.ok(v.ok, v.out)
})

t.test('fetch jwt prints tokens; validate jwt accepts its audience and rejects another', async (t) => {
  const dir = tempDir(t)
  const api = await startFakeWorkloadApi(dir, { ids: ['/web', '/batch'] })
  t.teardown(() => api.close())
  const env = { SPIFFE_ENDPOINT_SOCKET: `unix://${api.socketPath}` }
  const r = await cli(['api', 'fetch', 'jwt', '--audience', 'spiffe://example.org/db'], { env })
  t.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  t.equal(lines.length, 2, 'one line per SVID')
  for (const line of lines) t.match(line, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the token alone')

  const only = await cli(
    [
      'api',
      'fetch',
      'jwt',
      '--audience',
      'a',
      '--spiffe-id',
      'spiffe://example.org/batch',
      '--output',
      'json',
    ],
    { env },
  )
  t.equal(only.code, 0, only.stderr)
  const parsed = JSON.parse(only.stdout) as { spiffe_id: string; svid: string }[]
  t.same(
    parsed.map((p) => p.spiffe_id),
    ['spiffe://example.org/batch'],
  )

  const token = lines[0] ?? ''
  const ok = await cli(['api', 'validate', 'jwt', '--audience', 'spiffe://example.org/db', '--svid', '-'], {
    env,
    stdin: `${token}\n`,
  })
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /SVID is valid\.\nSPIFFE ID : spiffe:\/\/example\.org\/(web|batch)/)
  const okJson = await cli(
    ['api', 'validate', 'jwt', '--audience', 'spiffe://example.org/db', '--svid', '-', '--output', 'json'],
    { env, stdin: token },
  )
  t.equal(okJson.code, 0)
  t.same(JSON.parse(okJson.stdout).claims.aud, ['spiffe://example.org/db'])

  const wrong = await cli(
    ['api', 'validate', 'jwt', '--audience', 'spiffe://example.org/other', '--svid', '-'],
    { env, stdin: token },
  )
  t.equal(wrong.code, 1, 'another audience is rejected')
  t.equal(wrong.stdout, '')
  t.match(wrong.stderr, /^sigil-agent api validate jwt: the SVID is not valid: .*audience/)
  t.equal(wrong.stderr.trim().split('\n').length, 1, 'one line')
  t.ok(
    api.calls.every((c) => c.header.length === 1 && c.header[0] === 'true'),
    'header on every call',
  )

  const usage = await cli(['api', 'fetch', 'jwt'], { env })
  t.equal(usage.code, 2, 'missing --audience is a usage error')
  t.match(usage.stderr, /audience/)
})

t.test('refusals and an unreachable socket exit 1 with one line', async (t) => {
  const dir = tempDir(t)
  const api = await startFakeWorkloadApi(dir)
  t.teardown(() => api.close())
  api.deny = status.PERMISSION_DENIED
  const denied = await cli(['api', 'fetch', 'x509', '--socket-path', api.socketPath])
  t.equal(denied.code, 1)
  t.equal(denied.stderr, 'sigil-agent api fetch x509: PERMISSION_DENIED: no identity issued\n')

  const missing = join(dir, 'nothing-here.sock')
  for (const args of [
    ['api', 'fetch', 'x509'],
    ['api', 'fetch', 'jwt', '--audience', 'a'],
    ['api', 'watch'],
    ['healthcheck'],
  ]) {
    const r = await cli([...args, '--socket-path', missing, '--timeout', '2s'])
    t.equal(r.code, 1, `${args.join(' ')} exits 1`)
    t.equal(r.stderr.split('\n').length, 2, 'exactly one line')
    t.match(r.stderr, new RegExp(`cannot reach the Workload API at ${missing}`))
    t.equal(r.stdout, '')
  }

  const badEnv = await cli(['api', 'fetch', 'x509'], {
    env: { SPIFFE_ENDPOINT_SOCKET: 'unix:relative.sock' },
  })
  t.equal(badEnv.code, 2, 'a malformed SPIFFE_ENDPOINT_SOCKET is a usage error')
  t.match(badEnv.stderr, /SPIFFE_ENDPOINT_SOCKET "unix:relative\.sock": the path must be absolute/)
  t.equal((await cli(['api', 'fetch', 'nothing'])).code, 2)
  t.equal((await cli(['api', 'fetch', 'x509', '--output', 'yaml'])).code, 2)
})

t.test('healthcheck: healthy only on the answer a running agent gives to the probe', async (t) => {
  const dir = tempDir(t)
  const api = await startFakeWorkloadApi(dir)
  t.teardown(() => api.close())
  const r = await cli(['healthcheck', '--socket-path', api.socketPath])
  t.equal(r.code, 0, r.stderr)
  t.equal(
    r.stdout,
    `Agent is healthy (the Workload API at ${api.socketPath} answered the probe as expected).\n`,
  )
  t.notMatch(r.stdout, /INVALID_ARGUMENT/, 'a refusal is not shown as health')
  const j = await cli(['healthcheck', '--socket-path', api.socketPath, '--output', 'json'])
  t.same(JSON.parse(j.stdout).healthy, true)
})

t.test('watch prints every update until interrupted', async (t) => {
  const dir = tempDir(t)
  const api = await startFakeWorkloadApi(dir)
  t.teardown(() => api.close())
  const stop = new AbortController()
  const watching = cli(['api', 'watch', '--socket-path', api.socketPath, '--output', 'json'], {
    signal: stop.signal,
  })
  await waitUntil('the watch to call the Workload API', () => api.calls.length > 0)
  await sleep(100)
  await api.rotate()
  await sleep(200)
  stop.abort()
  const r = await watching
  t.equal(r.code, 0, r.stderr)
  // one pretty JSON document per update (the CLIs' one JSON style), each starting with `{` in column 0
  const updates = r.stdout
    .trim()
    .split(/\n(?=\{)/)
    .map((doc) => JSON.parse(doc))
  t.equal(updates.length, 2, 'the first message and the rotation')
  t.equal(updates[0].svids[0].spiffe_id, 'spiffe://example.org/web')
  t.not(updates[0].svids[0].serial, updates[1].svids[0].serial, 'a new serial after rotation')
  t.ok(Date.parse(updates[1].svids[0].not_after) > Date.now())
})
