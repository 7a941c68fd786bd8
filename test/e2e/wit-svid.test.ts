// WIT-SVIDs end to end (issue 16 item 1) with the real sigil-server and sigil-agent and a real
// workload process using the SDK: the workload fetches its WIT-SVID over FetchWITSVID, signs a
// Workload Proof Token per request, and a node:http service protected by verifyWorkloadRequest
// (WIT keys from the server's SPIFFE bundle) accepts it and refuses each bad case: wrong aud,
// expired exp, reused jti, wth for another WIT, alg none, signed by a key other than cnf.jwk,
// the WIT in Authorization: Bearer. The WIT-SVID rotates with a new key at half its life.
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { decodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import { isSigilError } from '../../certs/errors.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { parseWitSvidInsecure } from '../../certs/witsvid/validate-wit-svid.js'
import { createWorkloadProofToken, tokenHash } from '../../certs/wpt/create-workload-proof-token.js'
import {
  type VerifyWorkloadRequestOptions,
  verifyWorkloadRequest,
} from '../../sdk/verify-workload-request.js'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { waitUntil } from '../helpers/wait-until.js'
import { startWitWorkload } from '../helpers/wit-workload.js'

const TD = 'spiffe://example.org'
const CLIENT = `${TD}/orders-client`
const uid = process.getuid?.() ?? 0
const node = await startSigilNode(t)
const script = `${node.dir}/wit-workload.mjs`
await node.createEntry(
  CLIENT,
  [`unix:uid:${uid}`, `proc:script:${script}`],
  ['--x509-svid-ttl', '30s', '--hint', 'external'],
)

async function serverBundle() {
  const r = await node.server.cli('bundle', 'show', '--format', 'spiffe', '--output', 'json')
  if (r.code !== 0) throw new Error(r.stderr)
  return decodeSpiffeBundle(TrustDomain.parse('example.org'), JSON.stringify(JSON.parse(r.stdout).bundle))
}
const bundle = await serverBundle()

// The protected service: its audience is configuration, never the Host header.
const verify: VerifyWorkloadRequestOptions = {
  audience: 'https://orders.example.org/v1/orders',
  bundles: (td) => (td.equals(bundle.trustDomain) ? bundle : undefined),
}
const service = createServer((req, res) => {
  try {
    const { spiffeId } = verifyWorkloadRequest(req, verify)
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ caller: spiffeId.toString() }))
  } catch (e) {
    res.writeHead(401, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ code: isSigilError(e) ? e.code : 'INTERNAL' }))
  }
})
await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise<void>((resolve) => service.close(() => resolve())))
const url = `http://127.0.0.1:${(service.address() as AddressInfo).port}/v1/orders`

async function call(
  headers: Record<string, string>,
): Promise<{ status: number; body: Record<string, string> }> {
  const r = await fetch(url, { headers: { host: 'evil.example.org', ...headers } })
  return { status: r.status, body: (await r.json()) as Record<string, string> }
}

const w = await startWitWorkload(t, { dir: node.dir, socketPath: node.agent.socketPath })
const AUD = 'https://orders.example.org/v1/orders'
const headersFor = async (args: Record<string, unknown> = {}) => {
  const a = await w.request('headers', { audience: AUD, ...args })
  if (!a.ok) throw new Error(String(a.message))
  return a.headers as Record<string, string>
}

t.test('the workload gets a WIT-SVID over FetchWITSVID and the service accepts its WIT + WPT', async (t) => {
  const wit = await w.request('wit')
  t.ok(wit.ok, String(wit.message))
  t.equal(wit.spiffeId, CLIENT)
  t.equal(wit.hint, 'external')
  const parsed = parseWitSvidInsecure(String(wit.token))
  t.ok(bundle.findWitAuthority(parsed.kid), 'signed by a WIT key of the bundle')
  t.equal(parsed.confirmationAlgorithm, 'ES256')
  const ok = await call(await headersFor())
  t.equal(ok.status, 200, JSON.stringify(ok.body))
  t.equal(ok.body.caller, CLIENT)
})

t.test('the service refuses each bad case', async (t) => {
  const good = await headersFor()
  const wit = good['Workload-Identity-Token'] as string
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const minted = await node.server.cli('wit', 'mint', '--spiffe-id', `${TD}/someone-else`, '--output', 'json')
  t.equal(minted.code, 0, minted.stderr)
  const otherWit = JSON.parse(minted.stdout).wit_svid as string
  const none = [
    Buffer.from('{"alg":"none","typ":"wpt+jwt"}').toString('base64url'),
    Buffer.from(
      JSON.stringify({
        aud: AUD,
        exp: Math.floor(Date.now() / 1000) + 60,
        jti: 'AAAAAAAAAAAAAAAAAAAAAA',
        wth: tokenHash(wit),
      }),
    ).toString('base64url'),
    '',
  ].join('.')
  const cases: [string, Record<string, string>, string][] = [
    [
      'wrong aud',
      await headersFor({ audience: 'https://billing.example.org/v1' }),
      'ERR_JWT_AUDIENCE_MISMATCH',
    ],
    ['expired exp', await headersFor({ nowMs: Date.now() - 10 * 60_000 }), 'ERR_JWT_EXPIRED'],
    ['wth for another WIT', await headersFor({ witForWth: otherWit }), 'ERR_JWT_INVALID'],
    ['alg none', { 'Workload-Identity-Token': wit, 'Workload-Proof-Token': none }, 'ERR_JWT_ALG_NOT_ALLOWED'],
    [
      'signed by a key other than cnf.jwk',
      {
        'Workload-Identity-Token': wit,
        'Workload-Proof-Token': createWorkloadProofToken({
          wit,
          privateKey: other.privateKey,
          audience: AUD,
        }),
      },
      'ERR_JWT_SIGNATURE_INVALID',
    ],
    [
      'WIT in Authorization: Bearer',
      { authorization: `Bearer ${wit}`, 'Workload-Proof-Token': good['Workload-Proof-Token'] as string },
      'ERR_NOT_AUTHORIZED',
    ],
    [
      'WIT in Authorization: Bearer with its WIT header too',
      { ...good, authorization: `Bearer ${wit}` },
      'ERR_NOT_AUTHORIZED',
    ],
    ['no WPT', { 'Workload-Identity-Token': wit }, 'ERR_NOT_AUTHORIZED'],
  ]
  for (const [what, headers, code] of cases) {
    const r = await call(headers)
    t.equal(r.status, 401, what)
    t.equal(r.body.code, code, what)
  }
  const first = await call(good)
  t.equal(first.status, 200, 'the good request (sent only now) passes')
  const replay = await call(good)
  t.equal(replay.status, 401, 'reused jti')
  t.equal(replay.body.code, 'ERR_TOKEN_USED', 'reused jti')
})

t.test(
  'a process without a matching entry gets PermissionDenied from FetchWITSVID; the bundles carry the WIT keys',
  async (t) => {
    const client = new WorkloadApiClient({ socketPath: node.agent.socketPath })
    t.teardown(() => client.close())
    await t.rejects(client.fetchWitSvids(), { code: 'ERR_NOT_AUTHORIZED' })
  },
)

t.test('the WIT-SVID rotates at half its life: a new token and a new key', async (t) => {
  const first = await w.request('wit')
  const firstParsed = parseWitSvidInsecure(String(first.token))
  let next = first
  await waitUntil(
    'a rotated WIT-SVID',
    async () => {
      next = await w.request('wit')
      return next.token !== first.token
    },
    { timeoutMs: 40_000, intervalMs: 500 },
  )
  const nextParsed = parseWitSvidInsecure(String(next.token))
  t.notOk(nextParsed.confirmationKey.equals(firstParsed.confirmationKey), 'a new key pair')
  const ok = await call(await headersFor())
  t.equal(ok.status, 200, 'the rotated WIT is accepted')
})
