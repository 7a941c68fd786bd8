// The server's policy store on a real SQLite datastore and the real Cedar engine: versions,
// compile-once, an invalid text never stored (the version in force stays), listeners, a version
// stored by another server picked up by refresh, and a 10,000-policy set (works; compile time
// printed, not asserted).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PolicyError } from '../../../common/policy/policy-engine.js'
import { SqliteDataStore } from '../../../server/datastore/sqlite/sqlite-data-store.js'
import { type PolicyInForce, PolicyStore } from '../../../server/policy/policy-store.js'
import { RecordingLogger } from '../ca/ca-test-kit.js'

async function open(t: { teardown(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-policy-'))
  const path = join(dir, 'ds.sqlite3')
  const ds = await SqliteDataStore.open({ path })
  t.teardown(async () => {
    await ds.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { ds, path }
}

const ALLOW = '@id("allow-all")\npermit (principal, action, resource);\n'

t.test(
  'set stores a version, puts it in force and tells listeners; an invalid text changes nothing',
  async (t) => {
    const { ds } = await open(t)
    const store = await PolicyStore.open({ datastore: ds, logger: new RecordingLogger() })
    t.same(store.inForce(), { version: 0, text: '', sha256: '' })
    const seen: PolicyInForce[] = []
    store.onChange((p) => seen.push(p))
    const { record, compiled } = await store.set(ALLOW, 'uid=0')
    t.equal(record.version, 1)
    t.equal(store.point.current, compiled, 'the set compiled at `set` is the one in force')
    t.same(compiled?.policyIds, ['allow-all'])
    t.match(seen, [{ version: 1, text: ALLOW }])

    await t.rejects(store.set('permit (principal, action, resource)', ''), PolicyError)
    const invalid = await store
      .set('@id("x")\npermit (principal, action, resource) when { principal.nope };\n', '')
      .catch((e: unknown) => e)
    t.match(invalid, { problems: [{ line: 2 }] }, 'line/column of the problem')
    t.equal(store.inForce().version, 1, 'the last valid version stays in force')
    t.equal((await ds.listPolicyVersions()).length, 1, 'nothing stored')
    t.equal(seen.length, 1, 'listeners not told')

    const cleared = await store.set('', '')
    t.equal(cleared.record.version, 2)
    t.equal(store.point.current, undefined, 'no policy: entries alone decide')
    t.same(store.inForce(), { version: 2, text: '', sha256: '' })
  },
)

t.test('refresh picks up a version another server stored, compiling it once', async (t) => {
  const { ds, path } = await open(t)
  const a = await PolicyStore.open({ datastore: ds, logger: new RecordingLogger() })
  const other = await SqliteDataStore.open({ path })
  t.teardown(() => other.close())
  const b = await PolicyStore.open({ datastore: other, logger: new RecordingLogger() })
  await b.set(ALLOW, '')
  t.equal(a.inForce().version, 0)
  await a.refresh()
  t.equal(a.inForce().version, 1)
  const first = a.point.current
  await a.refresh()
  t.equal(a.point.current, first, 'same version: not compiled again')
})

t.test('a 10,000-policy set is stored, compiled and decides', async (t) => {
  const { ds } = await open(t)
  const store = await PolicyStore.open({ datastore: ds, logger: new RecordingLogger() })
  const lines = [ALLOW]
  for (let i = 0; i < 10_000; i++) {
    lines.push(
      `@id("deny-${i}")\nforbid (principal == Sigil::Workload::"spiffe://example.org/w${i}", action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"aud-${i}");\n`,
    )
  }
  const text = lines.join('')
  const started = process.hrtime.bigint()
  const { compiled } = await store.set(text, '')
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  t.comment(
    `10,001 policies (${(text.length / 1e6).toFixed(1)} MB): set (compile + store) took ${ms.toFixed(0)} ms`,
  )
  t.equal(compiled?.policyIds.length, 10_001)
  const decide = (w: number, aud: string) =>
    store.point.decide({
      action: 'FetchJWTSVID',
      workload: { spiffeId: `spiffe://example.org/w${w}` },
      resource: aud,
      now: new Date(),
    })
  t.match(decide(4242, 'aud-4242'), { decision: 'deny', policyIds: ['deny-4242'] })
  t.match(decide(4242, 'aud-1'), { decision: 'allow', policyIds: ['allow-all'] })
})
