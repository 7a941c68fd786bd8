// The README's Policy section stays true: its schema block is the shipped schema, every example
// policy compiles against it (the real Cedar engine), and the examples decide as the text says.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CompiledPolicySet } from '../../common/policy/policy-engine.js'
import { PolicyPoint } from '../../common/policy/policy-point.js'
import { SIGIL_SCHEMA } from '../../common/policy/sigil-schema.js'
import { ROOT } from '../helpers/server-process.js'

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
const start = readme.indexOf('## Policy: ')
const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
const blocks = [...section.matchAll(/```cedar\n([\s\S]*?)```/g)].map((m) => m[1] as string)

t.test('the README shows the shipped schema', async (t) => {
  t.ok(start >= 0, 'README has the Policy section')
  t.equal(blocks[0]?.trim(), SIGIL_SCHEMA.trim())
})

t.test('every example policy compiles, and they decide as described', async (t) => {
  const examples = blocks.slice(1)
  t.equal(examples.length, 3, 'time window, task scope, approval')
  for (const [i, text] of examples.entries()) t.doesNotThrow(() => CompiledPolicySet.compile(text, i + 1))
  const point = new PolicyPoint()
  point.install(1, examples.join('\n'))
  const reporter = { spiffeId: 'spiffe://example.org/reporter', risk: 'high', owner: 'team-payments' }
  const at = (h: number) => new Date(Date.UTC(2030, 0, 1, h))
  const jwt = (h: number) =>
    point.decide({
      action: 'FetchJWTSVID',
      workload: reporter,
      resource: 'spiffe://example.org/reports',
      now: at(h),
    })
  t.match(jwt(3), { decision: 'deny', policyIds: ['reports-maintenance-window'] })
  t.match(jwt(12), { decision: 'allow' })
  const task = {
    id: 't1',
    scope: ['spiffe://example.org/tool'],
    deadline: at(13),
    onBehalfOf: 'spiffe://example.org/user/alice',
  }
  const taskJwt = (aud: string) =>
    point.decide({ action: 'FetchTaskJWTSVID', workload: reporter, resource: aud, task, now: at(12) })
  t.match(taskJwt('spiffe://example.org/tool'), { decision: 'allow' })
  t.match(taskJwt('spiffe://example.org/admin'), { decision: 'deny', policyIds: ['task-scope-high-risk'] })
  t.match(point.decide({ action: 'CallTool', workload: reporter, resource: 'payments', now: at(12) }), {
    decision: 'hold',
    policyIds: ['payments-needs-approval'],
  })
})
