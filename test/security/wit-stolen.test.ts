// Attacks on WIT-SVIDs (issue 16 item 1), against the real sigil-server, sigil-agent and a real
// workload process, with a service protected by the SDK's verifyWorkloadRequest (WIT keys from
// the bundle endpoint, revocations from its feed). The attacker has stolen what travels on the
// wire — the victim's WIT-SVID and one of its Workload Proof Tokens — but not the victim's key.
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { isSigilError } from '../../certs/errors.js'
import { parseWitSvidInsecure } from '../../certs/witsvid/validate-wit-svid.js'
import { createWorkloadProofToken } from '../../certs/wpt/create-workload-proof-token.js'
import { fetchSpiffeBundle, RevocationFeed } from '../../sdk/index.js'
import {
  type VerifyWorkloadRequestOptions,
  verifyWorkloadRequest,
} from '../../sdk/verify-workload-request.js'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { waitUntil } from '../helpers/wait-until.js'
import { startWitWorkload } from '../helpers/wit-workload.js'

const TD = 'spiffe://example.org'
const VICTIM = `${TD}/victim`
const AUD = 'https://payments.example.org/v1/pay'
const node = await startSigilNode(t)
const script = `${node.dir}/wit-workload.mjs`
await node.createEntry(VICTIM, [`unix:uid:${process.getuid?.() ?? 0}`, `proc:script:${script}`])
const devCa = readFileSync(join(node.server.dataDir, 'bundle-endpoint', 'dev-ca.pem'))
const profile = { type: 'https_web' as const, ca: devCa }
const base = node.server.bundleEndpointUrl.replace(/\/$/, '')
const bundle = await fetchSpiffeBundle({ url: base, trustDomain: 'example.org', profile })
const feed = await RevocationFeed.create({ url: base, profile, pollIntervalMs: 50 })
t.teardown(() => feed.close())
const service: VerifyWorkloadRequestOptions = { audience: AUD, bundles: () => bundle, revocations: feed }
const victim = await startWitWorkload(t, { dir: node.dir, socketPath: node.agent.socketPath })
const attacker = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })

/** The service's answer: the caller, or the refusal code. */
function present(headers: Record<string, string>, opts = service): string {
  try {
    return verifyWorkloadRequest({ headers: lower(headers) }, opts).spiffeId.toString()
  } catch (e) {
    return isSigilError(e) ? e.code : String(e)
  }
}
const lower = (h: Record<string, string>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))
async function victimHeaders(): Promise<Record<string, string>> {
  const a = await victim.request('headers', { audience: AUD })
  if (!a.ok) throw new Error(String(a.message))
  return a.headers as Record<string, string>
}

t.test('a stolen WIT replayed with a fresh WPT signed by another key is refused', async (t) => {
  const stolen = await victimHeaders()
  const wit = stolen['Workload-Identity-Token'] as string
  const forged = createWorkloadProofToken({ wit, privateKey: attacker.privateKey, audience: AUD })
  t.equal(
    present({ 'Workload-Identity-Token': wit, 'Workload-Proof-Token': forged }),
    'ERR_JWT_SIGNATURE_INVALID',
  )
  t.equal(present(stolen), VICTIM, 'the victim itself still gets in')
})

t.test('a stolen WIT + WPT pair replayed is refused (jti used), also at another service', async (t) => {
  const stolen = await victimHeaders()
  t.equal(present(stolen), VICTIM)
  t.equal(present(stolen), 'ERR_TOKEN_USED', 'the same service')
  const other: VerifyWorkloadRequestOptions = {
    audience: 'https://ledger.example.org/v1',
    bundles: () => bundle,
  }
  t.equal(present(await victimHeaders(), other), 'ERR_JWT_AUDIENCE_MISMATCH', 'another service')
})

t.test('a stolen WIT as a bearer token is refused', async (t) => {
  const wit = (await victimHeaders())['Workload-Identity-Token'] as string
  t.equal(present({ Authorization: `Bearer ${wit}` }), 'ERR_NOT_AUTHORIZED')
  const forged = createWorkloadProofToken({ wit, privateKey: attacker.privateKey, audience: AUD })
  t.equal(present({ Authorization: `Bearer ${wit}`, 'Workload-Proof-Token': forged }), 'ERR_NOT_AUTHORIZED')
})

t.test("a stolen WIT whose cnf.jwk is edited to the attacker's key is refused", async (t) => {
  const wit = (await victimHeaders())['Workload-Identity-Token'] as string
  const [h, p, s] = wit.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
  claims.cnf.jwk = { ...attacker.publicKey.export({ format: 'jwk' }), alg: 'ES256' }
  const edited = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`
  const wpt = createWorkloadProofToken({ wit: edited, privateKey: attacker.privateKey, audience: AUD })
  t.equal(
    present({ 'Workload-Identity-Token': edited, 'Workload-Proof-Token': wpt }),
    'ERR_JWT_SIGNATURE_INVALID',
  )
})

t.test('a stolen WIT presented as a JWT-SVID is refused by the agent', async (t) => {
  const wit = (await victimHeaders())['Workload-Identity-Token'] as string
  const client = new WorkloadApiClient({ socketPath: node.agent.socketPath })
  t.teardown(() => client.close())
  await t.rejects(client.validateJwtSvid(wit, AUD), /JWT|kid|aud|typ/i)
})

t.test('a WIT revoked with svid revoke --jti is refused with its fresh WPT', async (t) => {
  const headers = await victimHeaders()
  const { claims } = parseWitSvidInsecure(headers['Workload-Identity-Token'] as string)
  const r = await node.server.cli('svid', 'revoke', '--jti', String(claims.jti), '--reason', 'stolen')
  t.equal(r.code, 0, r.stderr)
  await waitUntil('the feed to list the WIT', () => feed.isRevoked({ jti: String(claims.jti) }), {
    timeoutMs: 5_000,
  })
  t.equal(present(headers), 'ERR_SVID_REVOKED')
  await waitUntil('the agent to give the victim a new WIT-SVID', async () => {
    const now = await victim.request('wit')
    return now.token !== headers['Workload-Identity-Token']
  })
  t.equal(present(await victimHeaders()), VICTIM, 'the victim gets in with its new WIT-SVID')
})
