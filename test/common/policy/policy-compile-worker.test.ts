// A large policy set compiles on a worker thread (CompiledPolicySet.compileOffThread): the
// result decides exactly as the in-thread compile does, an invalid set is refused with the same
// PolicyError (line and column), a small set compiles in-thread, and the event loop keeps
// turning while a large one compiles (the daemon keeps serving).
import t from 'tap'
import { CompiledPolicySet, OFF_THREAD_MIN_BYTES, PolicyError } from '../../../common/policy/policy-engine.js'
import { PolicyPoint } from '../../../common/policy/policy-point.js'

const TD = 'spiffe://example.org'

/** `n` policies: one permit, forbids on single audiences, and an approval. */
function bigSet(n: number): string {
  const out = [
    '@id("allow-all")\npermit (principal, action, resource);\n',
    `@id("pay")\n@approval("required")\npermit (principal, action == Sigil::Action::"CallTool", resource == Sigil::Tool::"payments");\n`,
  ]
  for (let i = 2; i < n; i++)
    out.push(
      `@id("p${i}")\nforbid (principal is Sigil::Workload, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"aud-${i}")\nwhen { principal.risk == "high" };\n`,
    )
  return out.join('')
}

const text = bigSet(1500)
const now = new Date('2030-01-01T12:00:00Z')
const W = { spiffeId: `${TD}/w`, risk: 'high' }

t.test('off-thread compile decides as the in-thread one', async (t) => {
  t.ok(Buffer.byteLength(text) >= OFF_THREAD_MIN_BYTES, 'the set is large enough to go off-thread')
  const inThread = CompiledPolicySet.compile(text, 7)
  const offThread = await CompiledPolicySet.compileOffThread(text, 7)
  t.same(offThread.policyIds, inThread.policyIds)
  t.equal(offThread.sha256, inThread.sha256)
  t.equal(offThread.version, 7)
  const a = new PolicyPoint()
  a.installCompiled(inThread)
  const b = new PolicyPoint()
  b.installCompiled(offThread)
  for (const check of [
    { action: 'FetchJWTSVID' as const, workload: W, resource: 'aud-42', now },
    { action: 'FetchJWTSVID' as const, workload: W, resource: 'aud-x', now },
    { action: 'CallTool' as const, workload: W, resource: 'payments', now },
  ])
    t.same(b.decide(check), a.decide(check), `${check.action} ${check.resource}`)
  t.match(b.decide({ action: 'CallTool', workload: W, resource: 'payments', now }), {
    decision: 'hold',
    policyIds: ['pay'],
  })
})

t.test('an invalid large set is refused with the same line and column', async (t) => {
  const broken = `${text}@id("bad")\nforbid (principal, action, resource) when { principal.nope == 1 };\n`
  let inThread: unknown
  try {
    CompiledPolicySet.compile(broken, 1)
  } catch (e) {
    inThread = e
  }
  t.ok(inThread instanceof PolicyError)
  const offThread = await CompiledPolicySet.compileOffThread(broken, 1).catch((e: unknown) => e)
  t.ok(offThread instanceof PolicyError, 'a PolicyError, not a worker failure')
  t.equal((offThread as PolicyError).message, (inThread as PolicyError).message)
  t.same((offThread as PolicyError).problems, (inThread as PolicyError).problems)
  // two header policies (5 lines), 1,498 forbids of 3 lines; "bad" is the forbid after its @id line
  t.match((offThread as PolicyError).problems[0], { line: 2 + 3 + 3 * 1498 + 2, policyId: 'bad' })
})

t.test('the event loop keeps turning while a large set compiles', async (t) => {
  let turns = 0
  let compiling = true
  const spin = (): void => {
    turns++
    if (compiling) setImmediate(spin)
  }
  setImmediate(spin)
  await CompiledPolicySet.compileOffThread(text, 2)
  compiling = false
  t.ok(turns > 1, `the loop turned ${turns} times during the compile (an in-thread compile: at most once)`)
})

t.test('a small set compiles in-thread, with the same errors', async (t) => {
  const small = '@id("a")\npermit (principal, action, resource);\n'
  t.same((await CompiledPolicySet.compileOffThread(small, 3)).policyIds, ['a'])
  await t.rejects(CompiledPolicySet.compileOffThread('permit (', 3), PolicyError)
})
