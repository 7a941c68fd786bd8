// The decision point both daemons embed, on the real Cedar engine: no policy passes everything;
// install compiles once per version and keeps the set in force when a text does not compile;
// deny throws ERR_NOT_AUTHORIZED naming the policies; hold goes to onHold, and without one is
// refused as "approval required (policy X)".
import t from 'tap'
import { PolicyError } from '../../../common/policy/policy-engine.js'
import { isPolicyDenied, PolicyPoint, policyRequest } from '../../../common/policy/policy-point.js'

const W = { spiffeId: 'spiffe://example.org/pay', owner: 'team-pay', risk: 'high' }
const SET = `@id("allow-all")
permit (principal, action, resource);
@id("no-db")
forbid (principal, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"db");
@id("payments-approval")
@approval("required")
permit (principal is Sigil::Workload, action == Sigil::Action::"CallTool", resource == Sigil::Tool::"payments");
`
const now = new Date('2030-01-01T12:00:00Z')

t.test('no policy: every check passes', async (t) => {
  const point = new PolicyPoint()
  t.equal(point.version, 0)
  t.equal(point.decide({ action: 'FetchJWTSVID', workload: W, resource: 'db', now }), undefined)
  t.equal(await point.enforce({ action: 'FetchJWTSVID', workload: W, resource: 'db', now }), undefined)
})

t.test('install compiles once per version; a broken text keeps the set in force', async (t) => {
  const point = new PolicyPoint()
  t.ok(point.install(3, SET))
  const first = point.current
  t.notOk(point.install(3, SET), 'same version: nothing to do')
  t.equal(point.current, first)
  t.throws(() => point.install(4, 'permit (principal, action, resource)'), PolicyError)
  t.equal(point.version, 3, 'the set in force stays')
  t.ok(point.install(5, ''), 'empty text: no policy')
  t.equal(point.current, undefined)
  t.equal(point.version, 5)
})

t.test('deny names the policy; hold without a hook is refused as approval required', async (t) => {
  const point = new PolicyPoint()
  point.install(1, SET)
  const denied = await point
    .enforce({ action: 'FetchJWTSVID', workload: W, resource: 'db', now })
    .catch((e) => e)
  t.ok(isPolicyDenied(denied))
  t.match(denied, { code: 'ERR_NOT_AUTHORIZED', message: 'denied by policy "no-db"' })
  t.match(await point.enforce({ action: 'FetchJWTSVID', workload: W, resource: 'web', now }), {
    decision: 'allow',
    policyIds: ['allow-all'],
  })
  const held = await point
    .enforce({ action: 'CallTool', workload: W, resource: 'payments', now })
    .catch((e) => e)
  t.match(held, { code: 'ERR_NOT_AUTHORIZED', message: 'approval required (policy "payments-approval")' })
})

t.test('onHold decides a hold: approved passes, refused throws', async (t) => {
  const point = new PolicyPoint()
  point.install(1, SET)
  const asked: string[] = []
  point.onHold = async (check, d) => {
    asked.push(`${check.action} ${check.resource} ${d.policyIds.join(',')}`)
    return { ...d, decision: check.workload?.owner === 'team-pay' ? 'allow' : 'deny' }
  }
  t.match(await point.enforce({ action: 'CallTool', workload: W, resource: 'payments', now }), {
    decision: 'allow',
  })
  const refused = await point
    .enforce({ action: 'CallTool', workload: { ...W, owner: 'other' }, resource: 'payments', now })
    .catch((e) => e)
  t.ok(isPolicyDenied(refused))
  t.same(asked, ['CallTool payments payments-approval', 'CallTool payments payments-approval'])
})

t.test(
  'policyRequest: the workload is parented by its agent; the task and audiences are in context',
  async (t) => {
    const req = policyRequest({
      action: 'FetchTaskJWTSVID',
      workload: W,
      agent: { spiffeId: 'spiffe://example.org/node', attestationType: 'join_token' },
      resource: 'aud',
      task: { id: 't1', scope: ['aud'], deadline: now, actChain: ['spiffe://example.org/planner'] },
      now,
    })
    t.same(req.principal, { type: 'Sigil::Workload', id: W.spiffeId })
    t.same(req.resource, { type: 'Sigil::Audience', id: 'aud' })
    t.match(req.context, { inTask: true, audiences: ['aud'], delegationDepth: 1, hourUtc: 12 })
    const workload = req.entities.find((e) => JSON.stringify(e.uid).includes('Workload'))
    t.match(workload?.parents, [{ type: 'Sigil::Agent', id: 'spiffe://example.org/node' }])
    t.throws(() => policyRequest({ action: 'FetchJWTSVID', resource: 'x', now }), TypeError)
  },
)

t.test(
  'approvalKeyOf: the same key at agent and server; the caller-gone signal reaches onHold',
  async (t) => {
    const { approvalKeyOf } = await import('../../../common/policy/policy-point.js')
    t.same(approvalKeyOf({ action: 'CallTool', workload: W, resource: 'payments', now }), {
      principal: W.spiffeId,
      action: 'CallTool',
      resource: 'Sigil::Tool::"payments"',
      taskId: '',
    })
    t.match(
      approvalKeyOf({
        action: 'FetchTaskJWTSVID',
        workload: W,
        resource: 'a"b',
        task: { id: 't-1', deadline: now },
        now,
      }),
      { resource: 'Sigil::Audience::"a\\"b"', taskId: 't-1' },
    )
    const point = new PolicyPoint()
    point.install(1, SET)
    const gone = new AbortController()
    let seen: AbortSignal | undefined
    point.onHold = async (_c, d, signal) => {
      seen = signal
      return { ...d, decision: 'allow' }
    }
    await point.enforce({ action: 'CallTool', workload: W, resource: 'payments', now }, gone.signal)
    t.equal(seen, gone.signal)
  },
)
