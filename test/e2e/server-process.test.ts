// The real sigil-server process on temp dirs, driven only through its CLI, its sockets
// and its HTTP endpoint (issue 3 acceptance).
import { execFileSync } from 'node:child_process'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { credentials, status } from '@grpc/grpc-js'
import { createLocalJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import { generateKeyPair } from '../../certs/keys/keys.js'
import { createCsr } from '../../certs/x509svid/csr.js'
import { type AgentAPIClient, loadAgentApi } from '../../proto/loader.js'
import { runBin, SERVER_BIN, shortTempDir, startServerProcess } from '../helpers/server-process.js'
import { runAttest, unary } from '../server/api/agent/agent-api-test-kit.js'
import { httpsRequest } from '../server/cli/https-get.js'

const agentApi = loadAgentApi()

function agentClient(address: string, rootPem: string): AgentAPIClient {
  return new agentApi.Client(
    address,
    credentials.createSsl(Buffer.from(rootPem), null, null, {
      checkServerIdentity: (_h, cert) =>
        cert.subjectaltname === 'URI:spiffe://example.org/sigil/server'
          ? undefined
          : new Error('not the server'),
    }),
    { 'grpc.ssl_target_name_override': 'sigil-server' },
  )
}

async function attest(client: AgentAPIClient, token: string) {
  const keys = await generateKeyPair('ec-p256')
  const csr = await createCsr(keys)
  return runAttest(client, [{ params: { type: 'join_token', payload: Buffer.from(token), csr } }])
}

t.test('entries and the CA survive a restart; SIGTERM exits 0', async (t) => {
  const dir = shortTempDir(t)
  const server = await startServerProcess(dir)
  t.teardown(() => server.stop())
  const created = await server.cli(
    'entry',
    'create',
    '--spiffe-id',
    'spiffe://example.org/web',
    '--parent-id',
    'spiffe://example.org/node',
    '--selector',
    'unix:uid:1000',
    '--output',
    'json',
  )
  t.equal(created.code, 0, created.stderr)
  const bundleBefore = (await server.cli('bundle', 'show', '--format', 'pem')).stdout
  t.match(bundleBefore, /BEGIN CERTIFICATE/)
  t.equal(await server.stop(), 0, 'SIGTERM is a clean exit')
  t.equal(statSync(join(dir, 'private')).mode & 0o777, 0o700, 'admin socket directory is 0700')

  const again = await startServerProcess(dir)
  t.teardown(() => again.stop())
  const shown = await again.cli(
    'entry',
    'show',
    '--spiffe-id',
    'spiffe://example.org/web',
    '--output',
    'json',
  )
  t.equal(shown.code, 0, shown.stderr)
  t.match(shown.stdout, /spiffe:\/\/example\.org\/web/)
  t.equal(
    (await again.cli('bundle', 'show', '--format', 'pem')).stdout,
    bundleBefore,
    'same CA after restart',
  )
  t.equal(statSync(again.adminSocket).mode & 0o777, 0o600, 'admin socket is 0600')
})

t.test(
  'x509 mint verifies with openssl against bundle show; jwt mint verifies with jose against the bundle endpoint',
  async (t) => {
    const dir = shortTempDir(t)
    const server = await startServerProcess(dir)
    t.teardown(() => server.stop())
    const out = join(dir, 'minted')
    const mint = await server.cli(
      'x509',
      'mint',
      '--spiffe-id',
      'spiffe://example.org/job',
      '--ttl',
      '10m',
      '--write',
      out,
    )
    t.equal(mint.code, 0, mint.stderr)
    const bundle = join(dir, 'roots.pem')
    writeFileSync(bundle, (await server.cli('bundle', 'show', '--format', 'pem')).stdout)
    const verified = execFileSync(
      'openssl',
      ['verify', '-x509_strict', '-CAfile', bundle, join(out, 'svid.pem')],
      {
        encoding: 'utf8',
      },
    )
    t.match(verified, /OK/)
    const text = execFileSync('openssl', ['x509', '-in', join(out, 'svid.pem'), '-noout', '-text'], {
      encoding: 'utf8',
    })
    t.match(text, /URI:spiffe:\/\/example\.org\/job/)
    t.equal(statSync(join(out, 'key.pem')).mode & 0o777, 0o600)

    const jwt = await server.cli('jwt', 'mint', '--spiffe-id', 'spiffe://example.org/job', '--audience', 'db')
    t.equal(jwt.code, 0, jwt.stderr)
    const token = jwt.stdout.trim()
    const answer = await httpsRequest(server.bundleEndpointUrl, {
      ca: readFileSync(join(dir, 'bundle-endpoint', 'dev-ca.pem')),
      servername: 'localhost',
    })
    t.equal(answer.status, 200)
    t.match(String(answer.headers['content-type']), /application\/json/)
    const doc = JSON.parse(answer.body) as { keys: { use: string; kid?: string }[]; spiffe_sequence: number }
    t.ok(doc.spiffe_sequence >= 1)
    const jwks = { keys: doc.keys.filter((k) => k.use === 'jwt-svid').map(({ use: _use, ...k }) => k) }
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks as never), {
      audience: 'db',
    })
    t.equal(payload.sub, 'spiffe://example.org/job')
    t.equal(protectedHeader.typ, 'JWT')
  },
)

t.test(
  'a join token works once; an evicted agent is refused; garbage does not hurt the server',
  async (t) => {
    const dir = shortTempDir(t)
    const server = await startServerProcess(dir)
    t.teardown(() => server.stop())
    const rootPem = (await server.cli('bundle', 'show', '--format', 'pem')).stdout
    const token = (
      await server.cli('token', 'generate', '--spiffe-id', 'spiffe://example.org/node-a')
    ).stdout.trim()
    t.match(token, /^[0-9a-f]{64}$/)
    const client = agentClient(server.agentApiAddress, rootPem)
    t.teardown(() => client.close())
    const first = await attest(client, token)
    const svid = first.find((m) => m.step === 'result')?.result?.svid
    t.equal(svid?.spiffe_id, 'spiffe://example.org/node-a')
    await t.rejects(attest(client, token), { code: status.PERMISSION_DENIED }, 'the second use is refused')

    const agents = await server.cli('agent', 'list', '--output', 'json')
    t.match(agents.stdout, /spiffe:\/\/example\.org\/node-a/)

    // garbage on the agent API port and the admin socket
    for (const target of [
      { port: Number(server.agentApiAddress.split(':')[1]), host: '127.0.0.1' },
      { path: server.adminSocket },
    ]) {
      await new Promise<void>((resolve) => {
        const s = connect(target as never, () =>
          s.end(Buffer.from('\x16\x03\x01garbage garbage garbage\r\n\r\n')),
        )
        s.setTimeout(1000, () => s.destroy())
        s.on('error', () => resolve())
        s.on('close', () => resolve())
      })
    }
    t.equal((await server.cli('healthcheck')).code, 0, 'still healthy after garbage')

    // an evicted agent cannot sync with its old SVID
    const { privateKeyToPkcs8Pem } = await import('../../certs/keys/keys.js')
    const keys = await generateKeyPair('ec-p256')
    const token2 = (
      await server.cli('token', 'generate', '--spiffe-id', 'spiffe://example.org/node-b')
    ).stdout.trim()
    const csr = await createCsr(keys)
    const msgs = await runAttest(client, [
      { params: { type: 'join_token', payload: Buffer.from(token2), csr } },
    ])
    const chain = msgs.find((m) => m.step === 'result')?.result?.svid?.cert_chain ?? []
    const { certificatesToPem } = await import('../../certs/x509svid/pem.js')
    const mtls = new agentApi.Client(
      server.agentApiAddress,
      credentials.createSsl(
        Buffer.from(rootPem),
        Buffer.from(privateKeyToPkcs8Pem(keys.privateKey)),
        Buffer.from(certificatesToPem(chain)),
        { checkServerIdentity: () => undefined },
      ),
      { 'grpc.ssl_target_name_override': 'sigil-server' },
    )
    t.teardown(() => mtls.close())
    await unary(mtls, 'SyncAuthorizedEntries', {})
    t.equal((await server.cli('agent', 'evict', '--spiffe-id', 'spiffe://example.org/node-b')).code, 0)
    await t.rejects(unary(mtls, 'SyncAuthorizedEntries', {}), { code: status.PERMISSION_DENIED })
  },
)

t.test(
  "an expired join token is refused; an agent cannot get SVIDs for another agent's entries",
  async (t) => {
    const dir = shortTempDir(t)
    const server = await startServerProcess(dir)
    t.teardown(() => server.stop())
    const rootPem = (await server.cli('bundle', 'show', '--format', 'pem')).stdout
    const client = agentClient(server.agentApiAddress, rootPem)
    t.teardown(() => client.close())

    const shortLived = (
      await server.cli('token', 'generate', '--spiffe-id', 'spiffe://example.org/node-x', '--ttl', '1s')
    ).stdout.trim()
    await new Promise((r) => setTimeout(r, 2100))
    await t.rejects(attest(client, shortLived), { code: status.PERMISSION_DENIED }, 'expired token refused')

    const { privateKeyToPkcs8Pem } = await import('../../certs/keys/keys.js')
    const { certificatesToPem } = await import('../../certs/x509svid/pem.js')
    const agents: Record<string, AgentAPIClient> = {}
    for (const name of ['node-a', 'node-b']) {
      const token = (
        await server.cli('token', 'generate', '--spiffe-id', `spiffe://example.org/${name}`)
      ).stdout.trim()
      const keys = await generateKeyPair('ec-p256')
      const msgs = await runAttest(client, [
        { params: { type: 'join_token', payload: Buffer.from(token), csr: await createCsr(keys) } },
      ])
      const chain = msgs.find((m) => m.step === 'result')?.result?.svid?.cert_chain ?? []
      agents[name] = new agentApi.Client(
        server.agentApiAddress,
        credentials.createSsl(
          Buffer.from(rootPem),
          Buffer.from(privateKeyToPkcs8Pem(keys.privateKey)),
          Buffer.from(certificatesToPem(chain)),
          { checkServerIdentity: () => undefined },
        ),
        { 'grpc.ssl_target_name_override': 'sigil-server' },
      )
      t.teardown(() => agents[name]?.close())
    }
    const created = await server.cli(
      'entry',
      'create',
      '--spiffe-id',
      'spiffe://example.org/a-workload',
      '--parent-id',
      'spiffe://example.org/node-a',
      '--selector',
      'unix:uid:1000',
      '--dns-name',
      'a.example.org',
      '--output',
      'json',
    )
    t.equal(created.code, 0, created.stderr)
    const entryId =
      (JSON.parse(created.stdout) as { entry?: { id: string }; id?: string }).entry?.id ??
      (JSON.parse(created.stdout) as { id: string }).id
    t.ok(entryId, 'entry id from --output json')
    const csr = await createCsr(await generateKeyPair('ec-p256'))
    const synced = await unary<{ entries: { id: string }[] }>(agents['node-b']!, 'SyncAuthorizedEntries', {})
    t.notOk(
      synced.entries.some((e) => e.id === entryId),
      "node-b does not see node-a's entry",
    )
    await t.rejects(
      unary(agents['node-b']!, 'BatchNewX509Svid', { params: [{ entry_id: entryId, csr }] }),
      { code: status.PERMISSION_DENIED },
      "node-b is refused an SVID for node-a's entry",
    )
    const ok = await unary<{ results: { svid: { cert_chain: Buffer[] } }[] }>(
      agents['node-a']!,
      'BatchNewX509Svid',
      {
        params: [{ entry_id: entryId, csr }],
      },
    )
    const { X509Certificate } = await import('node:crypto')
    const leaf = new X509Certificate(ok.results[0]!.svid.cert_chain[0]!)
    t.match(leaf.subjectAltName ?? '', /DNS:a\.example\.org/, 'DNS names come from the entry')
    const refusals = await server.cli(
      'svid',
      'list',
      '--agent-id',
      'spiffe://example.org/node-a',
      '--output',
      'json',
    )
    t.match(refusals.stdout, /a-workload/, 'the issuance record names the SVID')
  },
)

t.test('invalid configuration exits 2 with a one-line reason, and nothing starts', async (t) => {
  const dir = t.testdir({ 'bad.json': '{"trust-domain": "Bad Domain"}', 'broken.toml': 'trust_domain = ' })
  for (const file of ['bad.json', 'broken.toml']) {
    const r = await runBin(SERVER_BIN, ['run', '--config', join(dir, file), '--data-dir', join(dir, 'data')])
    t.equal(r.code, 2, file)
    t.equal(r.stderr.trim().split('\n').length, 1, `${file}: one line`)
    t.match(r.stderr, /trust-domain|broken\.toml/)
  }
  const unknownCommand = await runBin(SERVER_BIN, ['frobnicate'])
  t.equal(unknownCommand.code, 2)
})
