// Attack family: using a credential after the operator revoked it (issue 13), against the real
// sigil-server and sigil-agent processes. A stolen JWT-SVID replayed after `svid revoke`; a stolen
// X509-SVID and key presented after `svid revoke --spiffe-id` (to openssl and to the SDK's mTLS
// check, while the victim is re-issued a fresh SVID); an outsider listening to the
// server's push stream to learn what is revoked; garbage in the public revocation feed's query.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { credentials, status } from '@grpc/grpc-js'
import { decodeJwt } from 'jose'
import t from 'tap'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import { loadAgentApi } from '../../proto/loader.js'
import { authorizeAny } from '../../sdk/authorizers.js'
import { fetchSpiffeBundle, RevocationFeed, validateJwtSvid } from '../../sdk/index.js'
import { verifyPeer } from '../../sdk/tls-peer.js'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { X509Source } from '../../sdk/x509-source.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { waitUntil } from '../helpers/wait-until.js'
import { httpsRequest } from '../server/cli/https-get.js'
import { statusName } from './harness.js'

const TD = 'spiffe://example.org'
const node = await startSigilNode(t)
await node.createEntry(`${TD}/victim`, [`unix:uid:${process.getuid?.() ?? 0}`])
const client = new WorkloadApiClient({ socketPath: node.agent.socketPath, timeoutMs: 10_000 })
t.teardown(() => client.close())
const devCa = readFileSync(join(node.server.dataDir, 'bundle-endpoint', 'dev-ca.pem'))
const profile = { type: 'https_web' as const, ca: devCa }
const base = node.server.bundleEndpointUrl.replace(/\/$/, '')

t.test(
  'a stolen JWT-SVID replayed after svid revoke --jti is refused by the agent and by the SDK feed',
  async (t) => {
    const stolen = await client.fetchJwtSvid({ audience: ['payments'] })
    const feed = await RevocationFeed.create({ url: base, profile, pollIntervalMs: 50 })
    t.teardown(() => feed.close())
    const bundle = await fetchSpiffeBundle({ url: base, trustDomain: 'example.org', profile })
    const sdkOpts = { audience: 'payments', bundleFor: () => bundle, revocations: feed }
    await validateJwtSvid(stolen.token, sdkOpts)
    const jti = decodeJwt(stolen.token).jti as string
    const r = await node.server.cli('svid', 'revoke', '--jti', jti, '--reason', 'stolen')
    t.equal(r.code, 0, r.stderr)

    let agentErr: unknown
    await waitUntil(
      'the agent to refuse the replay',
      async () => {
        agentErr = await client.validateJwtSvid(stolen.token, 'payments').then(
          () => undefined,
          (e: unknown) => e,
        )
        return agentErr !== undefined
      },
      { timeoutMs: 1_000, intervalMs: 10 },
    )
    t.match(
      String(agentErr),
      /the JWT-SVID has been revoked .*\(INVALID_ARGUMENT\)/,
      'agent: InvalidArgument, revoked',
    )
    await waitUntil('the SDK feed to catch up', () => feed.isRevoked({ jti }), { timeoutMs: 5_000 })
    await t.rejects(
      validateJwtSvid(stolen.token, sdkOpts),
      { code: 'ERR_SVID_REVOKED' },
      'SDK refuses the replay',
    )
    const fresh = await client.fetchJwtSvid({ audience: ['payments'] })
    t.not(fresh.token, stolen.token, 'the victim gets a new token')
    await validateJwtSvid(fresh.token, sdkOpts)
    t.ok(await client.validateJwtSvid(fresh.token, 'payments'), 'and it is accepted')
  },
)

t.test('a stolen X509-SVID presented after svid revoke --spiffe-id fails openssl -crl_check', async (t) => {
  const dir = mkdtempSync(join(node.dir, 'stolen-'))
  const source = await X509Source.create({ socketPath: node.agent.socketPath, timeoutMs: 10_000 })
  t.teardown(() => source.close())
  const ctx = await client.fetchX509Context()
  const svid = ctx.svids[0]!
  const leafDer = svid.chainDer[0]!
  const serial = svid.serialNumber
  const r = await node.server.cli(
    'svid',
    'revoke',
    '--spiffe-id',
    `${TD}/victim`,
    '--reason',
    'host compromised',
  )
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, `Value            : ${serial}`, 'the live X509-SVID is among the revoked')
  const crl = await httpsRequest(`${base}/crl.pem`, { ca: devCa })
  writeFileSync(join(dir, 'crl.pem'), crl.body)
  writeFileSync(join(dir, 'leaf.pem'), certificatesToPem([leafDer]))
  writeFileSync(join(dir, 'ca.pem'), certificatesToPem([...ctx.bundles.get('example.org')!.x509Authorities]))
  let out = ''
  try {
    execFileSync(
      'openssl',
      [
        'verify',
        '-no-CApath',
        '-no-CAstore',
        '-crl_check',
        '-CAfile',
        join(dir, 'ca.pem'),
        '-CRLfile',
        join(dir, 'crl.pem'),
        join(dir, 'leaf.pem'),
      ],
      { stdio: 'pipe' },
    )
    out = 'accepted'
  } catch (e) {
    out = `${(e as { stdout: Buffer }).stdout}${(e as { stderr: Buffer }).stderr}`
  }
  t.match(out, /certificate revoked/, 'refused by a stock verifier')

  // the SDK's mTLS check (X509Source + the agent's CRLs) refuses it too, and the victim is
  // given a new SVID instead of being left with a revoked one
  await waitUntil(
    'the X509Source to hold the CRL revoking it',
    () => source.getRevokedSerials().has(serial),
    {
      timeoutMs: 1_000,
      intervalMs: 10,
    },
  )
  t.throws(() => verifyPeer(svid.chainDer, source, authorizeAny(), new Date()), { code: 'ERR_SVID_REVOKED' })
  await waitUntil('a fresh X509-SVID for the victim', () => source.getX509Svid().serialNumber !== serial, {
    timeoutMs: 10_000,
  })
  const fresh = source.getX509Svid()
  t.equal(verifyPeer(fresh.chainDer, source, authorizeAny(), new Date()).toString(), `${TD}/victim`)
})

t.test('an outsider without an agent SVID cannot open the push stream', async (t) => {
  const api = loadAgentApi()
  const roots = readFileSync(node.bundlePath)
  const outsider = new api.Client(
    node.server.agentApiAddress,
    credentials.createSsl(roots, null, null, { checkServerIdentity: () => undefined }),
    { 'grpc.ssl_target_name_override': 'sigil-server' },
  )
  t.teardown(() => outsider.close())
  const err = await new Promise<unknown>((resolve) => {
    const call = outsider.WatchAgentUpdates({ revocation_sequence: 0 })
    call.on('data', () => resolve(new Error('an outsider got an update')))
    call.on('error', resolve)
  })
  t.equal(statusName(err), 'UNAUTHENTICATED')
  t.equal((err as { code: number }).code, status.UNAUTHENTICATED)
})

t.test('garbage in the revocation feed query is a 400 and the endpoint keeps serving', async (t) => {
  for (const q of ['since=-1', 'since=1e9', 'since=abc', `since=${'9'.repeat(400)}`]) {
    const res = await httpsRequest(`${base}/revocations?${q}`, { ca: devCa })
    t.equal(res.status, 400, q)
  }
  const ok = await httpsRequest(`${base}/revocations?since=0`, { ca: devCa })
  t.equal(ok.status, 200)
  t.ok(JSON.parse(ok.body).sequence >= 1)
})
