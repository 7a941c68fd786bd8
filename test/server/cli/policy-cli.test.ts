// `sigil-server policy set|show|history|test` against a real admin API, datastore and the real
// Cedar engine: versions, an invalid policy refused with line/column (exit 1, nothing changes,
// the version in force stays), `policy test` decisions naming policy ids, bad context refused.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const AGENT = 'spiffe://example.org/sigil/agent/join_token/abc'
const PAY = 'spiffe://example.org/payments'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
  await f.datastore.createEntry({
    spiffeId: PAY,
    parentId: AGENT,
    selectors: [{ type: 'unix', value: 'uid:1000' }],
    x509SvidTtl: 0,
    jwtSvidTtl: 0,
    dnsNames: [],
    hint: '',
    admin: false,
    node: false,
    federatesWith: [],
    owner: 'team-pay',
    risk: 'high',
  })
})
t.teardown(() => f.close())

const GOOD = `@id("allow-all")
permit (principal, action, resource);

@id("no-high-risk-db")
forbid (principal is Sigil::Workload, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"db")
when { principal.risk == "high" };
`
const BAD = `@id("typo")
permit (principal, action, resource)
when { principal.rsik == "high" };
`

/** `policy test --principal P --action A --resource R [extra…]`. */
const policyTest = (principal: string, action: string, resource: string, ...extra: string[]) =>
  f.cli(['policy', 'test', '--principal', principal, '--action', action, '--resource', resource, ...extra])

async function file(name: string, text: string): Promise<string> {
  const path = join(f.dir, name)
  await writeFile(path, text)
  return path
}

t.test('no policy: show says so, test allows with "entries alone decide"', async (t) => {
  const show = await f.cli(['policy', 'show'])
  t.equal(show.code, 2)
  t.match(show.stderr, /no policy is set/)
  const test = await policyTest(PAY, 'FetchJWTSVID', 'db')
  t.equal(test.code, 0, test.stderr)
  t.match(test.stdout, /Decision {9}: allow/)
  t.match(test.stdout, /entries alone decide/)
})

t.test('set → show → test names the deciding policy; an invalid set changes nothing', async (t) => {
  const set = await f.cli(['policy', 'set', '--file', await file('good.cedar', GOOD)])
  t.equal(set.code, 0, set.stderr)
  t.match(set.stdout, /Version {10}: 1\n/)
  t.match(set.stdout, /Policies {9}: 2 \(allow-all, no-high-risk-db\)/)

  const denied = await policyTest(PAY, 'FetchJWTSVID', 'db', '--output', 'json')
  t.equal(denied.code, 0, denied.stderr)
  t.match(JSON.parse(denied.stdout), { decision: 'deny', policy_ids: ['no-high-risk-db'], version: '1' })
  const allowed = await policyTest(PAY, 'FetchJWTSVID', 'web')
  t.match(allowed.stdout, /Decision {9}: allow\nPolicy {11}: allow-all\n/)

  const bad = await f.cli(['policy', 'set', '--file', await file('bad.cedar', BAD)])
  t.equal(bad.code, 1, 'an invalid policy exits 1')
  t.match(bad.stderr, /invalid policy: line 3, column \d+: .*rsik/)
  t.equal(bad.stdout, '')
  t.equal(f.policies.inForce().version, 1, 'the version in force stays')
  t.equal((await f.datastore.listPolicyVersions()).length, 1, 'nothing stored')

  const show = await f.cli(['policy', 'show'])
  t.equal(show.code, 0)
  t.match(show.stdout, /Version {10}: 1\n/)
  t.match(show.stdout, /@id\("no-high-risk-db"\)/)
})

t.test('policy test --file tries a candidate without setting it; bad context is refused', async (t) => {
  const candidate = await file(
    'night.cedar',
    `@id("allow-all")\npermit (principal, action, resource);\n@id("night")\nforbid (principal, action, resource) when { context.hourUtc < 6 };\n`,
  )
  const at3 = Date.UTC(2030, 0, 1, 3) / 1000
  const night = await policyTest(
    PAY,
    'FetchX509SVID',
    PAY,
    '--file',
    candidate,
    '--context',
    JSON.stringify({ time: at3 }),
    '--output',
    'json',
  )
  t.equal(night.code, 0, night.stderr)
  t.match(JSON.parse(night.stdout), { decision: 'deny', policy_ids: ['night'], version: '0' })
  t.equal(f.policies.inForce().version, 1, 'testing a file sets nothing')

  for (const [context, why] of [
    ['[1,2]', /--context must be a JSON object/],
    ['"x"', /--context must be a JSON object/],
    ['{', /--context: not JSON/],
  ] as const) {
    const r = await policyTest(PAY, 'FetchJWTSVID', 'db', '--context', context)
    t.equal(r.code, 2, context)
    t.match(r.stderr, why)
  }
  const unknownKey = await policyTest(PAY, 'FetchJWTSVID', 'db', '--context', '{"colour":"red"}')
  t.equal(unknownKey.code, 2)
  t.match(unknownKey.stderr, /context key "colour" is not in the schema/)
  const nobody = await policyTest('spiffe://example.org/nobody', 'FetchJWTSVID', 'db')
  t.equal(nobody.code, 2)
  t.match(nobody.stderr, /no registration entry or attested agent/)
})

t.test('policy test: an agent as principal; the workload is parented by its attested agent', async (t) => {
  await f.datastore.createOrUpdateAttestedAgent(
    {
      spiffeId: AGENT,
      attestationType: 'join_token',
      serialNumber: 'ab',
      expiresAt: new Date(Date.now() + 3_600_000),
      selectors: [{ type: 'join_token', value: 'abc' }],
    },
    new Date(),
  )
  const candidate = await file(
    'agents.cedar',
    `@id("allow-all")\npermit (principal, action, resource);\n@id("no-join-token-agents")\nforbid (principal is Sigil::Agent, action, resource) when { principal.attestationType == "join_token" };\n@id("nothing-under-this-agent")\nforbid (principal in Sigil::Agent::"${AGENT}", action == Sigil::Action::"BeginTask", resource);\n`,
  )
  const asAgent = await policyTest(AGENT, 'FetchJWTSVID', 'db', '--file', candidate, '--output', 'json')
  t.equal(asAgent.code, 0, asAgent.stderr)
  t.match(JSON.parse(asAgent.stdout), { decision: 'deny', policy_ids: ['no-join-token-agents'] })
  const underAgent = await policyTest(PAY, 'BeginTask', PAY, '--file', candidate, '--output', 'json')
  t.match(JSON.parse(underAgent.stdout), { decision: 'deny', policy_ids: ['nothing-under-this-agent'] })
  const agentTask = await policyTest(AGENT, 'BeginTask', PAY, '--file', candidate)
  t.equal(agentTask.code, 2, 'an Agent begins no task')
  t.match(agentTask.stderr, /FetchX509SVID and FetchJWTSVID only/)
})

t.test('history lists versions newest first; --clear returns to no policy', async (t) => {
  const cleared = await f.cli(['policy', 'set', '--clear'])
  t.equal(cleared.code, 0, cleared.stderr)
  t.equal(f.policies.point.current, undefined)
  const history = await f.cli(['policy', 'history', '--output', 'json'])
  t.equal(history.code, 0)
  t.match(
    JSON.parse(history.stdout).policies.map((p: { version: string; policy_ids: string[] }) => [
      p.version,
      p.policy_ids,
    ]),
    [
      ['2', []],
      ['1', ['allow-all', 'no-high-risk-db']],
    ],
  )
  const old = await f.cli(['policy', 'show', '--version', '1'])
  t.match(old.stdout, /allow-all/)
  const none = await f.cli(['policy', 'show', '--version', '9'])
  t.equal(none.code, 2)
  t.match(none.stderr, /version 9 does not exist/)
  t.equal((await f.cli(['policy', 'set'])).code, 2, 'neither --file nor --clear')
})

t.test('a 10,000-policy file goes through the CLI and the admin socket; history stays cheap', async (t) => {
  const lines = ['@id("allow-all")\npermit (principal, action, resource);\n']
  for (let i = 0; i < 10_000; i++) {
    lines.push(
      `@id("deny-${i}")\nforbid (principal == Sigil::Workload::"spiffe://example.org/w${i}", action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"aud-${i}");\n`,
    )
  }
  const started = Date.now()
  const set = await f.cli([
    'policy',
    'set',
    '--file',
    await file('big.cedar', lines.join('')),
    '--output',
    'json',
  ])
  t.comment(`policy set of 10,001 policies through the CLI: ${Date.now() - started} ms`)
  t.equal(set.code, 0, set.stderr)
  t.equal(JSON.parse(set.stdout).policy.policy_ids.length, 10_001)
  const history = await f.cli(['policy', 'history', '--output', 'json'])
  t.equal(history.code, 0, history.stderr)
  t.equal(JSON.parse(history.stdout).policies[0].policy_ids.length, 10_001, 'ids stored, not recompiled')
  const test = await policyTest(PAY, 'FetchJWTSVID', 'db', '--output', 'json')
  t.match(JSON.parse(test.stdout), { decision: 'allow', policy_ids: ['allow-all'] })
})
