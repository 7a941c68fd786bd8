// verifyTaskRequest: a JWT-SVID bound to a task plus that task's Txn-Token pass (headers as a
// record, as fetch Headers); disagreeing, missing, out-of-scope, revoked or forged ones do not.
import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { JwtSvidSigner } from '../../certs/jwtsvid/jwt-svid-signer.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { signTxnToken } from '../../certs/txntoken/sign-txn-token.js'
import { verifyTaskRequest } from '../../sdk/verify-task-request.js'

const td = TrustDomain.parse('example.org')
const TOOL = 'spiffe://example.org/tool-api'
const executor = SpiffeId.parse('spiffe://example.org/executor')
const planner = 'spiffe://example.org/planner'
const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const signer = new JwtSvidSigner({ privateKey: key.privateKey, kid: 'k1' })
const bundle = TrustBundle.create({
  trustDomain: td,
  jwtAuthorities: [{ kid: 'k1', publicKey: key.publicKey }],
})
const bundles = (d: TrustDomain) => (d.equals(td) ? bundle : undefined)
const deadline = new Date(Date.now() + 120_000)

async function credentials(txn = 'task-1', over: { scope?: string[]; audience?: string } = {}) {
  const actors = [executor.toString(), planner]
  const txnToken = await signTxnToken(signer, {
    trustDomain: td,
    txn,
    subject: 'spiffe://example.org/user/alice',
    requestingWorkload: executor,
    purpose: 'report',
    scope: over.scope ?? [TOOL],
    deadline,
    actors,
  })
  const jwt = await signer.sign({
    spiffeId: executor,
    audience: [over.audience ?? TOOL],
    ttlSeconds: 60,
    txn: 'task-1',
    actors,
  })
  return { jwt, txnToken: txnToken.token }
}

t.test('a task request verifies: caller, task, chain, scope', async (t) => {
  const { jwt, txnToken } = await credentials()
  const headers = { authorization: `Bearer ${jwt.token}`, 'txn-token': txnToken }
  const v = await verifyTaskRequest(headers, { audience: TOOL, bundles })
  t.equal(v.caller.toString(), executor.toString())
  t.match(v.task, { id: 'task-1', subject: 'spiffe://example.org/user/alice', purpose: 'report' })
  t.same(v.actChain, [executor.toString(), planner])
  t.same(v.scope, [TOOL])
  const viaHeaders = await verifyTaskRequest(new Headers(headers), {
    audience: TOOL,
    bundles: { getBundleForTrustDomain: bundles },
  })
  t.equal(viaHeaders.task.id, 'task-1')
})

t.test('refusals', async (t) => {
  const good = await credentials()
  const auth = `Bearer ${good.jwt.token}`
  const other = await credentials('task-2')
  const cases: [string, Record<string, string>, object, string][] = [
    ['no bearer', { 'txn-token': good.txnToken }, {}, 'ERR_NOT_AUTHORIZED'],
    ['no Txn-Token', { authorization: auth }, {}, 'ERR_NOT_AUTHORIZED'],
    ['tasks disagree', { authorization: auth, 'txn-token': other.txnToken }, {}, 'ERR_NOT_AUTHORIZED'],
    [
      'revoked txn',
      { authorization: auth, 'txn-token': good.txnToken },
      { isRevoked: (x: { txn?: string }) => x.txn === 'task-1' },
      'ERR_NOT_AUTHORIZED',
    ],
    [
      'revoked jti',
      { authorization: auth, 'txn-token': good.txnToken },
      { isRevoked: (x: { jti?: string }) => x.jti === good.jwt.jti },
      'ERR_NOT_AUTHORIZED',
    ],
    [
      'wrong audience',
      { authorization: auth, 'txn-token': good.txnToken },
      { audience: 'spiffe://example.org/other' },
      'ERR_JWT_AUDIENCE_MISMATCH',
    ],
    [
      'a Txn-Token as bearer',
      { authorization: `Bearer ${good.txnToken}`, 'txn-token': good.txnToken },
      {},
      'ERR_JWT_INVALID',
    ],
  ]
  for (const [name, headers, over, code] of cases) {
    await t.rejects(verifyTaskRequest(headers, { audience: TOOL, bundles, ...over }), { code }, name)
  }
  // a plain JWT-SVID (no txn) is not a task token
  const plain = await signer.sign({ spiffeId: executor, audience: [TOOL], ttlSeconds: 60 })
  await t.rejects(
    verifyTaskRequest(
      { authorization: `Bearer ${plain.token}`, 'txn-token': good.txnToken },
      { audience: TOOL, bundles },
    ),
    { code: 'ERR_NOT_AUTHORIZED', message: /not bound to a task/ },
  )
  // the service is not in the task's scope (a JWT-SVID for it cannot make it so)
  const narrow = await credentials('task-1', { scope: ['spiffe://example.org/elsewhere'] })
  await t.rejects(
    verifyTaskRequest({ authorization: auth, 'txn-token': narrow.txnToken }, { audience: TOOL, bundles }),
    { code: 'ERR_NOT_AUTHORIZED', message: /scope/ },
  )
  // a forged pair from a key the bundle does not hold
  const rogue = new JwtSvidSigner({
    privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
    kid: 'k1',
  })
  const forged = await rogue.sign({ spiffeId: executor, audience: [TOOL], ttlSeconds: 60, txn: 'task-1' })
  await t.rejects(
    verifyTaskRequest(
      { authorization: `Bearer ${forged.token}`, 'txn-token': good.txnToken },
      { audience: TOOL, bundles },
    ),
    { code: 'ERR_JWT_SIGNATURE_INVALID' },
  )
})
