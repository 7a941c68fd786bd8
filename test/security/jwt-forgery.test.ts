// Attack family: a forged or misused JWT-SVID presented to a service that validates it — through
// the agent (Workload API ValidateJWTSVID, via the SDK's WorkloadApiClient) and locally (the SDK's
// JWTSource against the trust domain's JWT keys). Real sigil-server and sigil-agent processes;
// every forgery is made with `jose` or by hand, as an attacker would.
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { status } from '@grpc/grpc-js'
import { decodeProtectedHeader, SignJWT } from 'jose'
import t, { type Test } from 'tap'
import { isSigilError } from '../../certs/errors.js'
import { JWTSource } from '../../sdk/jwt-source.js'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { refusal } from './harness.js'

const TD = 'spiffe://example.org'
const AUD = 'payments'
// Both validators get a 2 s leeway (default 30 s, see jwt-leeway.test.ts), so the expired-token
// case below waits about 4 s instead of 32 s.
const LEEWAY_SECONDS = 2
const node = await startSigilNode(t, { agentArgs: ['--jwt-leeway', `${LEEWAY_SECONDS}s`] })
// The test process (root) is the service that validates, and the source of one real token.
await node.createEntry(`${TD}/service`, ['unix:uid:0'])
const client = new WorkloadApiClient({ socketPath: node.agent.socketPath, timeoutMs: 10_000 })
t.teardown(() => client.close())
const real = await client.fetchJwtSvid({ audience: [AUD] })
const { kid } = decodeProtectedHeader(real.token)
const jwt = await JWTSource.create({
  socketPath: node.agent.socketPath,
  timeoutMs: 10_000,
  leewaySeconds: LEEWAY_SECONDS,
})
t.teardown(() => jwt.close())
const ourKey = jwt.getJwtBundleForTrustDomain('example.org')?.findJwtAuthority(String(kid))?.publicKey
if (!ourKey) throw new Error(`the trust bundle has no JWT key ${String(kid)}`)
// A short-lived real token (1 s), minted now and presented once it is past exp + the leeway.
const shortLived = await node.server.cli(
  'jwt',
  'mint',
  '--spiffe-id',
  `${TD}/service`,
  '--audience',
  AUD,
  '--ttl',
  '1s',
)
if (shortLived.code !== 0) throw new Error(`jwt mint failed: ${shortLived.stderr}`)
await jwt.validateJwtSvid(shortLived.stdout.trim(), AUD) // valid while fresh (else the test below proves nothing)

const b64url = (v: unknown) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')
const now = () => Math.floor(Date.now() / 1000)
const claims = (over: Record<string, unknown> = {}) => ({
  sub: `${TD}/service`,
  aud: [AUD],
  exp: now() + 300,
  iat: now(),
  ...over,
})
const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const signWith = (key: KeyObject, header: Record<string, unknown>, payload: Record<string, unknown>) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'JWT', ...header }).sign(key)

/** Expects both validators to refuse `token`; `localCode` is the SDK's local error code. */
async function bothRefuse(t: Test, token: string, localCode: string, audience = AUD): Promise<void> {
  const viaAgent = await refusal(client.validateJwtSvid(token, audience), 'the agent')
  t.ok(isSigilError(viaAgent, 'ERR_JWT_INVALID'), `agent: ERR_JWT_INVALID (${String(viaAgent)})`)
  t.equal(
    (viaAgent as { cause?: { code?: number } }).cause?.code,
    status.INVALID_ARGUMENT,
    'agent: gRPC InvalidArgument',
  )
  const local = await refusal(jwt.validateJwtSvid(token, audience), 'the SDK validator')
  t.ok(isSigilError(local), `SDK: a SigilError (${String(local)})`)
  t.equal((local as { code?: string }).code, localCode, `SDK: ${localCode}`)
}

t.test('control: the real token validates through the agent and the SDK', async (t) => {
  t.equal((await client.validateJwtSvid(real.token, AUD)).spiffeId.toString(), `${TD}/service`)
  t.equal((await jwt.validateJwtSvid(real.token, AUD)).spiffeId.toString(), `${TD}/service`)
})

// Attack: an unsigned token (`alg: none`) carrying our kid and a valid-looking payload.
t.test('alg none is refused', async (t) => {
  const payload = b64url(claims())
  for (const alg of ['none', 'None', 'NONE']) {
    const token = `${b64url({ alg, typ: 'JWT', kid })}.${payload}.`
    await bothRefuse(t, token, 'ERR_JWT_ALG_NOT_ALLOWED')
  }
})

// Attack: HS256 "signed" with the trust domain's public key bytes, hoping the verifier uses the
// public key as an HMAC secret (the classic RS/ES → HS confusion).
t.test('HS256 signed with the bundle’s public key bytes is refused', async (t) => {
  const secrets: [string, Uint8Array][] = [
    ['SPKI PEM', Buffer.from(ourKey.export({ format: 'pem', type: 'spki' }) as string)],
    ['SPKI DER', ourKey.export({ format: 'der', type: 'spki' })],
    ['JWK JSON', Buffer.from(JSON.stringify(ourKey.export({ format: 'jwk' })))],
  ]
  for (const [form, secret] of secrets) {
    t.comment(`secret: the public key as ${form}`)
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: String(kid) })
      .sign(secret)
    await bothRefuse(t, token, 'ERR_JWT_ALG_NOT_ALLOWED')
  }
})

// Attack: a token signed with the attacker's own key under a kid the bundle does not hold.
t.test('an unknown kid is refused', async (t) => {
  const token = await signWith(foreign.privateKey, { kid: 'attacker-key-1' }, claims())
  await bothRefuse(t, token, 'ERR_JWT_KID_UNKNOWN')
})

// Attack: the attacker's key under our real kid (the verifier must check the signature, not the kid).
t.test('a foreign key reusing our kid is refused', async (t) => {
  const token = await signWith(foreign.privateKey, { kid: String(kid) }, claims())
  await bothRefuse(t, token, 'ERR_JWT_SIGNATURE_INVALID')
})

// Attack: a real token whose payload is edited (another subject), the original signature kept.
t.test('a real token with an edited subject is refused', async (t) => {
  const [header, , signature] = real.token.split('.')
  const edited = `${header}.${b64url(claims({ sub: `${TD}/admin`, exp: real.expiresAt.getTime() / 1000 }))}.${signature}`
  await bothRefuse(t, edited, 'ERR_JWT_SIGNATURE_INVALID')
})

// Attack: a token from another trust domain (its own CA and JWT key) presented to ours.
t.test('a token from a foreign trust domain is refused', async (t) => {
  const token = await signWith(
    foreign.privateKey,
    { kid: 'evil-1' },
    claims({ sub: 'spiffe://evil.org/service' }),
  )
  await bothRefuse(t, token, 'ERR_BUNDLE_NOT_FOUND')
})

// Attack: a real token sent to a service of another audience (token forwarding).
t.test('a real token for another audience is refused', async (t) => {
  await bothRefuse(t, real.token, 'ERR_JWT_AUDIENCE_MISMATCH', 'billing')
})

// Attack: a real token replayed after it expired (past exp and the leeway).
t.test('an expired real token is refused', async (t) => {
  const token = shortLived.stdout.trim()
  const exp = Number(JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).exp)
  const deadline = Date.now() + 15_000
  while (now() <= exp + LEEWAY_SECONDS + 1) {
    if (Date.now() > deadline) throw new Error('the 1 s token did not get past its leeway within 15 s')
    await new Promise((r) => setTimeout(r, 250))
  }
  await bothRefuse(t, token, 'ERR_JWT_EXPIRED')
})
