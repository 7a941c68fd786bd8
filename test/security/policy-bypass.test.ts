// Attack: a workload denied by agent-side policy tries to get the credential anyway by having
// the signing request reach the server directly — through an agent that does not enforce policy
// (compromised, stale, or a raw agent-API client with a valid agent SVID). The authority has the
// last word: a real sigil-server refuses every signing request the policy forbids
// (NewJwtSvid, BatchNewX509Svid, BeginTask, FetchTaskJwtSvid) with PermissionDenied naming the
// policy, and an invalid policy never lifts the one in force.
import type { ServiceError } from '@grpc/grpc-js'
import t from 'tap'
import { generateKeyPair } from '../../certs/keys/keys.js'
import { createCsr } from '../../certs/x509svid/csr.js'
import type { AgentAPIClient } from '../../proto/loader.js'
import { agentApiClient, refusal, sigilCodeOf, startAttackServer, statusName } from './harness.js'

const TD = 'spiffe://example.org'
const { server, admin, rootPem, attest } = await startAttackServer(t)
const cred = await attest('node-a')
const created = await admin.call('CreateEntry', {
  entry: {
    spiffe_id: `${TD}/payments`,
    parent_id: `${TD}/node-a`,
    selectors: [{ type: 'unix', value: 'uid:1000' }],
    task_scopes: [`${TD}/bank`, `${TD}/ledger`],
    risk: 'high',
  },
})
const entryId = created.entry?.id ?? ''
const client = agentApiClient(server.agentApiAddress, rootPem, cred)
t.teardown(() => client.close())

const POLICY = `@id("allow-all")
permit (principal, action, resource);

@id("no-bank-jwt")
forbid (principal, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"${TD}/bank");

@id("no-high-risk-x509")
forbid (principal is Sigil::Workload, action == Sigil::Action::"FetchX509SVID", resource)
when { principal.risk == "high" };

@id("no-ledger-in-tasks")
forbid (principal, action == Sigil::Action::"FetchTaskJWTSVID", resource == Sigil::Audience::"${TD}/ledger");
`

function call<Res>(method: keyof AgentAPIClient, req: object): Promise<Res> {
  return new Promise((resolve, reject) =>
    (client[method] as (r: object, o: object, cb: (e: ServiceError | null, r?: Res) => void) => void).call(
      client,
      req,
      { deadline: Date.now() + 10_000 },
      (e, r) => (e || r === undefined ? reject(e ?? new Error('empty answer')) : resolve(r)),
    ),
  )
}

t.before(async () => {
  await admin.call('SetPolicy', { text: POLICY, clear: false })
})

t.test('NewJwtSvid for a forbidden audience is refused by the server, naming the policy', async (t) => {
  const err = await refusal(call('NewJwtSvid', { entry_id: entryId, audience: [`${TD}/bank`] }), 'bank JWT')
  t.equal(statusName(err), 'PERMISSION_DENIED')
  t.equal(sigilCodeOf(err), 'ERR_NOT_AUTHORIZED')
  t.match((err as ServiceError).details, /no-bank-jwt/)
  const smuggled = await refusal(
    call('NewJwtSvid', { entry_id: entryId, audience: [`${TD}/ok`, `${TD}/bank`] }),
    'bank hidden among audiences',
  )
  t.equal(statusName(smuggled), 'PERMISSION_DENIED', 'one forbidden audience refuses the token')
  const ok = await call<{ token: string }>('NewJwtSvid', { entry_id: entryId, audience: [`${TD}/ok`] })
  t.ok(ok.token, 'an allowed audience is still signed')
})

t.test('BatchNewX509Svid for an entry policy forbids is refused by the server', async (t) => {
  const csr = await createCsr(await generateKeyPair('ec-p256'))
  const err = await refusal(call('BatchNewX509Svid', { params: [{ entry_id: entryId, csr }] }), 'x509')
  t.equal(statusName(err), 'PERMISSION_DENIED')
  t.match((err as ServiceError).details, /no-high-risk-x509/)
})

t.test('FetchTaskJwtSvid outside policy is refused by the server and the task drifts', async (t) => {
  const begun = await call<{ task_id: string }>('BeginTask', {
    entry_id: entryId,
    process_key: '4242:1',
    purpose: 'settle',
    scope: [`${TD}/bank`, `${TD}/ledger`],
  })
  const err = await refusal(
    call('FetchTaskJwtSvid', {
      task_id: begun.task_id,
      audience: `${TD}/ledger`,
      process_key: '4242:1',
      entry_ids: [entryId],
    }),
    'ledger task JWT',
  )
  t.equal(statusName(err), 'PERMISSION_DENIED')
  t.match((err as ServiceError).details, /no-ledger-in-tasks.*drifted/)
  const shown = await admin.call('GetTask', { task_id: begun.task_id })
  t.match(shown.task, { state: 'ended', outcome: 'drifted', end_reason: /no-ledger-in-tasks/ })
  const revoked = await admin.call('ListRevocations', {})
  t.ok(
    revoked.revocations.some(
      (r: { kind: string; value: string }) => r.kind === 'txn' && r.value === begun.task_id,
    ),
    "the drifted task's Txn-Token is revoked",
  )
})

t.test('an invalid policy set does not lift the policy in force', async (t) => {
  const err = await refusal(
    admin.call('SetPolicy', { text: 'permit (principal, action, resource)', clear: false }),
    'bad',
  )
  t.match(String((err as Error).message), /line 1, column/)
  const still = await refusal(
    call('NewJwtSvid', { entry_id: entryId, audience: [`${TD}/bank`] }),
    'bank again',
  )
  t.equal(statusName(still), 'PERMISSION_DENIED', 'the last valid version stays in force')
})
