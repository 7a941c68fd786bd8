// Attack: a workload whose request an `@approval("required")` policy holds tries to get the
// credential without a human's approval — through an agent that does not hold (compromised,
// stale, or a raw agent-API client with a valid agent SVID) sending the signing request straight
// to the server. A real sigil-server refuses it (`approval required … no approval covers this
// request`); an approval covers exactly its principal + action + resource: not another
// workload of the same agent, not another audience; `approve` without --for lets the held
// request through once, not twice; and an agent cannot approve its own hold (HoldForApproval
// only waits; deciding is on the admin socket).
import type { ServiceError } from '@grpc/grpc-js'
import t from 'tap'
import type { AgentAPIClient } from '../../proto/loader.js'
import { agentApiClient, refusal, sigilCodeOf, startAttackServer, statusName } from './harness.js'

const TD = 'spiffe://example.org'
const TREASURY = `${TD}/treasury`
const { server, admin, rootPem, attest } = await startAttackServer(t)
const cred = await attest('node-a')
async function entry(path: string): Promise<string> {
  const created = await admin.call('CreateEntry', {
    entry: {
      spiffe_id: `${TD}/${path}`,
      parent_id: `${TD}/node-a`,
      selectors: [{ type: 'unix', value: `uid:${path.length + 1000}` }],
    },
  })
  return created.entry?.id ?? ''
}
const payer = await entry('payer')
const other = await entry('other-workload')
const client = agentApiClient(server.agentApiAddress, rootPem, cred)
t.teardown(() => client.close())

const POLICY = `@id("allow-all")
permit (principal, action, resource);

@id("treasury-needs-approval")
@approval("required")
permit (principal, action == Sigil::Action::"FetchJWTSVID", resource)
when { resource.name like "${TD}/treasury*" };
`

function call<Res>(method: keyof AgentAPIClient, req: object, ms = 10_000): Promise<Res> {
  return new Promise((resolve, reject) =>
    (client[method] as (r: object, o: object, cb: (e: ServiceError | null, r?: Res) => void) => void).call(
      client,
      req,
      { deadline: Date.now() + ms },
      (e, r) => (e || r === undefined ? reject(e ?? new Error('empty answer')) : resolve(r)),
    ),
  )
}

const jwt = (entryId: string, audience: string) =>
  call<{ token: string }>('NewJwtSvid', { entry_id: entryId, audience: [audience] })

/** Asks for a hold like an agent would and approves it as the operator; resolves the hold's answer. */
async function heldAndApproved(principal: string, audience: string, forSeconds: number) {
  const held = call<{ status: string }>(
    'HoldForApproval',
    {
      principal,
      action: 'FetchJWTSVID',
      resource: `Sigil::Audience::${JSON.stringify(audience)}`,
      task_id: '',
      reason: 'approval required by policy "treasury-needs-approval"',
      timeout_seconds: 60,
    },
    70_000,
  )
  let id = ''
  const deadline = Date.now() + 10_000
  while (id === '') {
    if (Date.now() > deadline) throw new Error('no pending approval within 10 s')
    const list = await admin.call('ListApprovals', { status: 'pending', limit: 0 })
    id = list.approvals.find((a) => a.principal === principal && a.resource.includes(audience))?.id ?? ''
    if (id === '') await new Promise((r) => setTimeout(r, 100))
  }
  await admin.call('ApproveApproval', { id, for_seconds: forSeconds })
  return held
}

t.before(async () => {
  await admin.call('SetPolicy', { text: POLICY, clear: false })
})

t.test('no approval: the server refuses the held request sent straight to it', async (t) => {
  const err = await refusal(jwt(payer, TREASURY), 'treasury JWT without approval')
  t.equal(statusName(err), 'PERMISSION_DENIED')
  t.equal(sigilCodeOf(err), 'ERR_NOT_AUTHORIZED')
  t.match(
    (err as ServiceError).details,
    /approval required \(policy "treasury-needs-approval"\): no approval covers this request/,
  )
})

t.test('an approval covers exactly its principal and resource', async (t) => {
  t.match(await heldAndApproved(`${TD}/payer`, TREASURY, 600), { status: 'approved' })
  t.ok((await jwt(payer, TREASURY)).token, 'the approved request is signed')
  t.ok((await jwt(payer, TREASURY)).token, 'and again within --for')
  const otherPrincipal = await refusal(jwt(other, TREASURY), 'another workload of the same agent')
  t.equal(statusName(otherPrincipal), 'PERMISSION_DENIED')
  const otherAudience = await refusal(jwt(payer, `${TREASURY}-eu`), 'another audience')
  t.equal(statusName(otherAudience), 'PERMISSION_DENIED')
})

t.test('approve without --for lets the held request through once, not twice', async (t) => {
  const audience = `${TREASURY}-once`
  t.match(await heldAndApproved(`${TD}/payer`, audience, 0), { status: 'approved' })
  t.ok((await jwt(payer, audience)).token, 'the held request is signed')
  const twice = await refusal(jwt(payer, audience), 'the same request a second time')
  t.equal(statusName(twice), 'PERMISSION_DENIED')
})

t.test('an agent cannot decide a hold: the decision RPCs are not on the agent API', async (t) => {
  t.equal((client as unknown as Record<string, unknown>).ApproveApproval, undefined)
  t.equal((client as unknown as Record<string, unknown>).DenyApproval, undefined)
})
