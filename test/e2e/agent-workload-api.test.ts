// The real sigil-server and sigil-agent processes, driven through the Workload API socket and the
// `sigil-agent api …` CLI: the security header, garbage on the socket, the files of
// `api fetch x509 --write`, JWT-SVID validation, the health check and an agent restart that reuses
// its stored SVID (issue 4 acceptance).
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js'
import t from 'tap'
import { loadWorkloadApi } from '../../proto/loader.js'
import {
  printedSvids,
  startAgentProcess,
  startSigilNode,
  startWorkload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'
import { AGENT_BIN, runBin } from '../helpers/server-process.js'

const TD = 'spiffe://example.org'
const node = await startSigilNode(t)
const streamScript = writeWorkloadScript(node.dir, 'stream.mjs')
await node.createEntry(`${TD}/cli`, ['unix:uid:0', `proc:script:${realpathSync(AGENT_BIN)}`])
await node.createEntry(`${TD}/stream`, ['unix:uid:0', `proc:script:${streamScript}`])

/** Sends `bytes` on a raw connection to the socket and waits until the agent closes it (or 2 s pass). */
function sendRaw(bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(node.agent.socketPath, () => s.write(bytes))
    s.setTimeout(2_000, () => s.destroy())
    s.on('error', () => resolve())
    s.on('close', () => resolve())
    s.resume()
  })
}

t.test('a call without the security header gets InvalidArgument', async (t) => {
  const api = loadWorkloadApi()
  const client = new api.Client(`unix:${node.agent.socketPath}`, credentials.createInsecure())
  t.teardown(() => client.close())
  const streamError = (md: Metadata) =>
    new Promise<ServiceError>((resolve, reject) => {
      const call = client.FetchX509SVID({}, md)
      call.on('data', () => reject(new Error('an SVID without the header')))
      call.on('error', resolve)
    })
  const noHeader = await streamError(new Metadata())
  t.equal(noHeader.code, status.INVALID_ARGUMENT, 'FetchX509SVID without the header')
  const wrong = new Metadata()
  wrong.set('workload.spiffe.io', 'false')
  t.equal((await streamError(wrong)).code, status.INVALID_ARGUMENT, 'FetchX509SVID with "false"')

  const jwtError = await new Promise<ServiceError | null>((resolve) =>
    client.FetchJWTSVID({ audience: ['db'] }, new Metadata(), (err) => resolve(err)),
  )
  t.equal(jwtError?.code, status.INVALID_ARGUMENT, 'FetchJWTSVID without the header')
  const jwt = await node.agent.api('api', 'fetch', 'jwt', '--audience', 'db')
  t.equal(jwt.code, 0, jwt.stderr)
  const validateError = await new Promise<ServiceError | null>((resolve) =>
    client.ValidateJWTSVID({ audience: 'db', svid: jwt.stdout.trim() }, new Metadata(), (err) =>
      resolve(err),
    ),
  )
  t.equal(validateError?.code, status.INVALID_ARGUMENT, 'ValidateJWTSVID of a valid token without the header')
  const bundlesError = await new Promise<ServiceError>((resolve, reject) => {
    const call = client.FetchX509Bundles({}, new Metadata())
    call.on('data', () => reject(new Error('bundles without the header')))
    call.on('error', resolve)
  })
  t.equal(bundlesError.code, status.INVALID_ARGUMENT, 'FetchX509Bundles without the header')

  // With the header, this (unregistered) test process is refused for who it is instead.
  const md = new Metadata()
  md.set('workload.spiffe.io', 'true')
  t.equal((await streamError(md)).code, status.PERMISSION_DENIED, 'with the header: PermissionDenied')
})

t.test('garbage bytes on the socket do not disturb a streaming client', async (t) => {
  const w = startWorkload(t, { script: streamScript, socketPath: node.agent.socketPath })
  const first = await w.next('update')
  const [svid] = printedSvids(first)
  t.equal(svid?.spiffeId, `${TD}/stream`)

  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
  const hugeFrame = Buffer.from([0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01])
  await Promise.all([
    sendRaw(randomBytes(64 * 1024)),
    sendRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')),
    sendRaw(Buffer.concat([preface, hugeFrame, randomBytes(1024)])),
    sendRaw(Buffer.concat([preface, randomBytes(4096)])),
    ...Array.from({ length: 50 }, () => sendRaw(Buffer.alloc(0))),
  ])

  t.equal(node.agent.child.exitCode, null, 'the agent is still running')
  t.notOk(
    w.output.lines.some((l) => l.kind === 'error' || l.kind === 'end'),
    'the stream is still open',
  )
  const again = await w.fetch()
  t.equal(again.kind, 'fetch', 'the same process is still served')
  t.equal(printedSvids(again)[0]?.serial, svid?.serial, 'with its SVID')
  // A new entry for the process is pushed on the stream opened before the garbage.
  const from = w.output.lines.length
  await node.createEntry(`${TD}/stream-2`, ['unix:uid:0', `proc:script:${streamScript}`])
  const pushed = await w.next('update', 15_000, from)
  t.same(
    printedSvids(pushed)
      .map((s) => s.spiffeId)
      .sort(),
    [`${TD}/stream`, `${TD}/stream-2`],
    'the stream still receives pushed updates',
  )
  t.equal((await node.agent.api('healthcheck')).code, 0, 'healthy')
  await w.stop()
})

t.test('api fetch x509 --write files pass openssl verify; the key is 0600', async (t) => {
  const dir = join(node.dir, 'out')
  const fetched = await node.agent.api('api', 'fetch', 'x509', '--write', dir)
  t.equal(fetched.code, 0, fetched.stderr)
  t.match(fetched.stdout, /spiffe:\/\/example\.org\/cli/)
  const [svid, key, bundle] = ['svid.0.pem', 'svid.0.key', 'bundle.0.pem'].map((f) => join(dir, f)) as [
    string,
    string,
    string,
  ]
  const verified = execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', bundle, svid], {
    encoding: 'utf8',
  })
  t.match(verified, /svid\.0\.pem: OK/)
  t.equal(statSync(key).mode & 0o777, 0o600, 'svid.0.key is 0600')
  t.match(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----/, 'PKCS#8')
  const certKey = execFileSync('openssl', ['x509', '-in', svid, '-noout', '-pubkey'], { encoding: 'utf8' })
  const keyKey = execFileSync('openssl', ['pkey', '-in', key, '-pubout'], { encoding: 'utf8' })
  t.equal(keyKey, certKey, 'the key belongs to the SVID')
  const text = execFileSync('openssl', ['x509', '-in', svid, '-noout', '-ext', 'subjectAltName'], {
    encoding: 'utf8',
  })
  t.match(text, /URI:spiffe:\/\/example\.org\/cli/)
  t.equal(readFileSync(bundle, 'utf8'), readFileSync(node.bundlePath, 'utf8'), 'the trust bundle')
})

t.test('api validate jwt accepts a token of api fetch jwt only for its audience', async (t) => {
  const fetched = await node.agent.api('api', 'fetch', 'jwt', '--audience', 'db', '--output', 'json')
  t.equal(fetched.code, 0, fetched.stderr)
  const svids = JSON.parse(fetched.stdout) as { spiffe_id: string; svid: string }[]
  t.equal(svids.length, 1)
  t.equal(svids[0]?.spiffe_id, `${TD}/cli`)
  const token = svids[0]?.svid ?? ''
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/)

  // the token goes through a file: a token in argv is refused (test/security/token-argv.test.ts)
  const tokenDir = mkdtempSync(join(tmpdir(), 'sigil-jwt-'))
  t.teardown(() => rmSync(tokenDir, { recursive: true, force: true }))
  const tokenFile = (name: string, value: string) => {
    writeFileSync(join(tokenDir, name), value, { mode: 0o600 })
    return join(tokenDir, name)
  }
  const validate = (audience: string, file: string, ...extra: string[]) =>
    node.agent.api('api', 'validate', 'jwt', '--audience', audience, '--svid-file', file, ...extra)
  const ok = await validate('db', tokenFile('token', token), '--output', 'json')
  t.equal(ok.code, 0, ok.stderr)
  const validated = JSON.parse(ok.stdout) as { spiffe_id: string; claims: Record<string, unknown> }
  t.equal(validated.spiffe_id, `${TD}/cli`)
  t.equal(validated.claims.sub, `${TD}/cli`)

  const other = await validate('web', tokenFile('token', token))
  t.equal(other.code, 1, 'another audience is refused')
  t.match(other.stderr, /not valid/)
  const sig = token.slice(token.lastIndexOf('.') + 1)
  const flipped = `${token.slice(0, token.lastIndexOf('.') + 1)}${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`
  const forged = await validate('db', tokenFile('flipped', flipped))
  t.equal(forged.code, 1, 'a changed signature is refused')
})

t.test('healthcheck exits 0 against the agent, 1 without one', async (t) => {
  const healthy = await node.agent.api('healthcheck')
  t.equal(healthy.code, 0, healthy.stderr)
  const none = await runBin(AGENT_BIN, ['healthcheck', '--socket-path', join(node.dir, 'none.sock')])
  t.equal(none.code, 1, 'no agent, not healthy')
})

t.test('a restarted agent reuses its stored SVID, without a join token, and serves again', async (t) => {
  const attested = node.agent.logs.lines.find((l) => l.msg === 'node attested')
  t.ok(attested, 'the first run attested with the join token')
  t.equal(await node.agent.stop(), 0, 'SIGTERM is a clean exit')
  t.notOk(existsSync(node.agent.socketPath), 'the socket is removed')

  const again = await startAgentProcess({
    serverAddress: node.server.agentApiAddress,
    dataDir: node.agent.dataDir,
    socketPath: node.agent.socketPath,
  })
  t.teardown(() => again.stop())
  const reused = again.logs.lines.find((l) => l.msg === 'reusing the stored agent SVID')
  t.equal(reused?.serial, attested?.serial, 'the stored agent SVID is reused')
  t.notOk(
    again.logs.lines.some((l) => l.msg === 'node attested'),
    'no new attestation',
  )
  const fetched = await again.api('api', 'fetch', 'x509', '--output', 'json')
  t.equal(fetched.code, 0, fetched.stderr)
  const out = JSON.parse(fetched.stdout) as { svids: { spiffe_id: string }[] }
  t.same(
    out.svids.map((s) => s.spiffe_id),
    [`${TD}/cli`],
    'workloads are served again',
  )
})
