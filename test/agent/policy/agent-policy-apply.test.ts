// A pushed policy set at the agent: a small one is in force when apply returns; a large one
// compiles on a worker thread while the set in force keeps deciding, and goes in force when
// done — unless a newer push came meanwhile; one that does not compile keeps the set in force.
import t from 'tap'
import { AgentPolicy } from '../../../agent/policy/agent-policy.js'
import { OFF_THREAD_MIN_BYTES } from '../../../common/policy/policy-engine.js'
import { RecordingLogger } from '../../server/ca/ca-test-kit.js'

const big = (marker: string): string => {
  const out = ['@id("allow-all")\npermit (principal, action, resource);\n']
  for (let i = 0; i < 1500; i++)
    out.push(
      `@id("${marker}-${i}")\nforbid (principal is Sigil::Workload, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"aud-${i}")\nwhen { principal.risk == "high" };\n`,
    )
  return out.join('')
}
const small = '@id("only")\npermit (principal, action, resource);\n'

function policy(): { p: AgentPolicy; logger: RecordingLogger } {
  const logger = new RecordingLogger()
  const p = new AgentPolicy({ entriesFor: () => [], agent: () => undefined, logger, clock: () => new Date() })
  return { p, logger }
}

t.test('a large push compiles off-thread; the set in force decides meanwhile', async (t) => {
  const { p } = policy()
  await p.apply({ version: 1, text: small, sha256: '' })
  t.equal(p.point.version, 1, 'a small set is in force at once')
  const text = big('v2')
  t.ok(Buffer.byteLength(text) >= OFF_THREAD_MIN_BYTES)
  const pending = p.apply({ version: 2, text, sha256: '' })
  t.equal(p.point.version, 1, 'still version 1 while version 2 compiles')
  await pending
  t.equal(p.point.version, 2)
  t.equal(p.point.current?.policyIds.length, 1501)
})

t.test('a newer push while a large one compiles wins', async (t) => {
  const { p } = policy()
  const older = p.apply({ version: 2, text: big('v2'), sha256: '' })
  await p.apply({ version: 3, text: small, sha256: '' })
  t.equal(p.point.version, 3)
  await older
  t.equal(p.point.version, 3, 'the older set does not replace the newer one')
  t.same(p.point.current?.policyIds, ['only'])
})

t.test('a large push that does not compile keeps the set in force', async (t) => {
  const { p, logger } = policy()
  await p.apply({ version: 1, text: small, sha256: '' })
  await p.apply({ version: 2, text: `${big('v2')}permit (`, sha256: '' })
  t.equal(p.point.version, 1)
  t.ok(
    logger.entries.some((r) => r.msg === 'pushed policy does not compile; keeping the one in force'),
    'logged',
  )
})
