// The Cedar engine core (issue 14): compile once (parse, @id policy ids, strict validation
// against the Sigil schema, line/column on errors), decide with the real Cedar engine,
// `hold` for @approval("required") permits, action slicing and the per-second decision cache
// changing no decision.
import t from 'tap'
import {
  CompiledPolicySet,
  describeDecision,
  PolicyError,
  type PolicyRequest,
} from '../../../common/policy/policy-engine.js'
import {
  agentEntity,
  audienceEntity,
  audienceRef,
  buildContext,
  entityRef,
  parseRequestDetails,
  taskEntity,
  toolEntity,
  toolRef,
  workloadEntity,
} from '../../../common/policy/policy-entities.js'

const AGENT = 'spiffe://example.org/agent/node1'
const agent = agentEntity({ spiffeId: AGENT, attestationType: 'join_token' })
const app = workloadEntity({
  spiffeId: 'spiffe://example.org/app',
  owner: 'team-a',
  risk: 'high',
  agentId: AGENT,
})

const POLICIES = `// é: non-ASCII before the policies shifts byte offsets
@id("everyone")
permit (principal, action, resource);

@id("night-freeze")
forbid (principal is Sigil::Workload, action == Sigil::Action::"FetchJWTSVID", resource)
when { context.hourUtc < 6 && principal.owner == "team-a" };

@id("task-scope")
forbid (principal, action == Sigil::Action::"FetchTaskJWTSVID", resource)
when { context has task && !(context.task.scope.contains(resource.name)) };

@id("payments-approval")
@approval("required")
permit (principal, action == Sigil::Action::"CallTool", resource == Sigil::Tool::"payments");
`

function jwtRequest(hour: number): PolicyRequest {
  return {
    principal: entityRef(app),
    action: 'FetchJWTSVID',
    resource: audienceRef('billing'),
    context: buildContext({ now: new Date(Date.UTC(2026, 11, 4, hour, 30)), audiences: ['billing'] }),
    entities: [app, agent, audienceEntity('billing')],
  }
}

t.test('policy ids come from @id; a time-window forbid decides at night and the permit by day', async (t) => {
  const set = CompiledPolicySet.compile(POLICIES, 1)
  t.same(set.policyIds, ['everyone', 'night-freeze', 'task-scope', 'payments-approval'])
  t.equal(set.version, 1)
  t.match(set.sha256, /^[0-9a-f]{64}$/)
  t.same(set.authorize(jwtRequest(3)), { decision: 'deny', policyIds: ['night-freeze'], errors: [] })
  t.same(set.authorize(jwtRequest(12)), { decision: 'allow', policyIds: ['everyone'], errors: [] })
  t.equal(describeDecision(set.authorize(jwtRequest(3))), 'denied by policy "night-freeze"')
})

t.test('a task-scoped request outside the scope is denied by the scope policy', async (t) => {
  const set = CompiledPolicySet.compile(POLICIES, 1)
  const task = taskEntity({ id: 'task-1', scope: ['billing'], deadline: new Date(Date.UTC(2026, 11, 5)) })
  const ask = (aud: string) =>
    set.authorize({
      principal: entityRef(app),
      action: 'FetchTaskJWTSVID',
      resource: audienceRef(aud),
      context: buildContext({ now: new Date(Date.UTC(2026, 11, 4, 12)), task, audiences: [aud] }),
      entities: [app, agent, task, audienceEntity(aud)],
    })
  t.equal(ask('billing').decision, 'allow')
  t.same(ask('payments'), { decision: 'deny', policyIds: ['task-scope'], errors: [] })
})

t.test('a permit annotated @approval("required") holds instead of allowing', async (t) => {
  const set = CompiledPolicySet.compile(POLICIES, 1)
  const d = set.authorize({
    principal: entityRef(app),
    action: 'CallTool',
    resource: toolRef('payments'),
    context: buildContext({
      now: new Date(),
      request: parseRequestDetails('{"amount": 500, "operation": "refund"}'),
    }),
    entities: [app, agent, toolEntity('payments')],
  })
  t.same(d, { decision: 'hold', policyIds: ['payments-approval'], errors: [] })
  t.equal(describeDecision(d), 'approval required by policy "payments-approval"')
  t.ok(set.requiresApproval('payments-approval'))
  t.notOk(set.requiresApproval('everyone'))
})

t.test('no permit: Cedar default deny names no policy', async (t) => {
  const set = CompiledPolicySet.compile(
    '@id("only-x509") permit (principal, action == Sigil::Action::"FetchX509SVID", resource);',
    2,
  )
  const d = set.authorize(jwtRequest(12))
  t.same(d, { decision: 'deny', policyIds: [], errors: [] })
  t.equal(describeDecision(d), 'denied: no policy permits this request')
})

t.test('action slicing and the decision cache change no decision', async (t) => {
  // Many policies scoped to other actions and principals; the answer must be the same as
  // with the deciding policy alone, for repeated and for fresh requests.
  let text =
    '@id("jwt-b") permit (principal, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"b");\n'
  for (let i = 0; i < 200; i++) {
    text += `@id("x509-${i}") forbid (principal == Sigil::Workload::"spiffe://example.org/w${i}", action == Sigil::Action::"FetchX509SVID", resource);\n`
  }
  text +=
    '@id("multi") forbid (principal, action in [Sigil::Action::"FetchJWTSVID", Sigil::Action::"CallTool"], resource) when { context.hourUtc == 1 };\n'
  const set = CompiledPolicySet.compile(text, 3)
  const req = (aud: string, hour: number): PolicyRequest => ({
    ...jwtRequest(hour),
    resource: audienceRef(aud),
    entities: [app, agent, audienceEntity(aud)],
  })
  for (let round = 0; round < 2; round++) {
    t.same(
      set.authorize(req('b', 12)),
      { decision: 'allow', policyIds: ['jwt-b'], errors: [] },
      `round ${round}`,
    )
    t.same(set.authorize(req('c', 12)), { decision: 'deny', policyIds: [], errors: [] }, `round ${round}`)
    t.same(
      set.authorize(req('b', 1)),
      { decision: 'deny', policyIds: ['multi'], errors: [] },
      `round ${round}`,
    )
  }
})

t.test('a policy that does not parse: line and column of the mistake', async (t) => {
  const text = '// é\n@id("a")\npermit (principal, action, resource) when { 1 + };\n'
  const err = t.throws(() => CompiledPolicySet.compile(text, 1)) as PolicyError
  t.type(err, PolicyError)
  t.equal(err.code, 'ERR_POLICY_INVALID')
  t.match(err.problems[0], { line: 3, column: 49 })
  t.match(err.message, /line 3, column 49/)
})

t.test(
  'a policy that does not validate against the schema: the policy id, line and column, once',
  async (t) => {
    const text =
      '@id("ok") permit (principal, action, resource);\n\n@id("typo")\npermit (principal, action, resource) when { context.hourUTC < 6 };\n'
    const err = t.throws(() => CompiledPolicySet.compile(text, 1)) as PolicyError
    t.equal(err.problems.length, 1, 'the same mistake is reported once, not once per action')
    t.match(err.problems[0], { policyId: 'typo', line: 4, column: 45, message: /hourUTC/ })
  },
)

t.test('an attribute only a Workload has must be guarded by `principal is Sigil::Workload`', async (t) => {
  const err = t.throws(() =>
    CompiledPolicySet.compile(
      '@id("o") forbid (principal, action, resource) when { principal.owner == "x" };',
      1,
    ),
  ) as PolicyError
  t.match(err.problems[0]?.message, /owner/)
})

t.test('duplicate ids, @approval on a forbid, @approval with another value, templates', async (t) => {
  const cases: [string, RegExp][] = [
    [
      '@id("a") permit (principal, action, resource);\n@id("a") forbid (principal, action, resource);',
      /"a" is used twice \(line 2, column 1\)/,
    ],
    ['@id("f") @approval("required") forbid (principal, action, resource);', /permit policies only/],
    ['@id("p") @approval("maybe") permit (principal, action, resource);', /only "required"/],
    ['@id("t") permit (principal == ?principal, action, resource);', /includes a template/],
  ]
  for (const [text, message] of cases) {
    const err = t.throws(() => CompiledPolicySet.compile(text, 1)) as PolicyError
    t.type(err, PolicyError)
    t.match(err.message, message)
  }
})

t.test('caller context: a JSON object of known request details, anything else refused clearly', async (t) => {
  t.same(parseRequestDetails('{"method":"POST","amount":5,"labels":["a"]}'), {
    method: 'POST',
    amount: 5,
    labels: ['a'],
  })
  t.same(parseRequestDetails(''), {})
  for (const [text, message] of [
    ['[1]', /must be a JSON object/],
    ['"x"', /must be a JSON object/],
    ['null', /must be a JSON object/],
    ['{', /not valid JSON/],
    ['{"who":"x"}', /"who" is not in the schema/],
    ['{"amount":1.5}', /integer/],
    ['{"labels":[1]}', /array of strings/],
    ['{"method":1}', /must be a string/],
  ] as const) {
    t.throws(() => parseRequestDetails(text), { name: 'PolicyError', message }, text)
  }
})

t.test('a request that does not match the schema is a TypeError, not a decision', async (t) => {
  const set = CompiledPolicySet.compile(POLICIES, 1)
  t.throws(() => set.authorize({ ...jwtRequest(12), context: { time: 1 } }), TypeError)
  t.throws(() => set.authorize({ ...jwtRequest(12), action: 'Nope' as never }), TypeError)
})

t.test('10,000 policies compile and decide', async (t) => {
  let text = ''
  for (let i = 0; i < 10_000; i++) {
    text += `@id("p${i}")\npermit (principal == Sigil::Workload::"spiffe://example.org/w${i}", action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"aud${i}");\n`
  }
  const set = CompiledPolicySet.compile(text, 9)
  t.equal(set.policyIds.length, 10_000)
  const w = workloadEntity({ spiffeId: 'spiffe://example.org/w9999' })
  const d = set.authorize({
    principal: entityRef(w),
    action: 'FetchJWTSVID',
    resource: audienceRef('aud9999'),
    context: buildContext({ now: new Date() }),
    entities: [w, audienceEntity('aud9999')],
  })
  t.same(d, { decision: 'allow', policyIds: ['p9999'], errors: [] })
})
