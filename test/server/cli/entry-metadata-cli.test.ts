// Entry operator metadata (issue 14): --owner, --purpose, --risk on entry create/update/show and
// in `entry create --data`, stored, printed and refused when malformed (exit 2, nothing stored).
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const AGENT = 'spiffe://example.org/sigil/agent/join_token/abc'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())
t.afterEach(async () => {
  for (const e of await f.datastore.listEntries()) await f.datastore.deleteEntry(e.id)
})

const create = (path: string, extra: string[]) =>
  f.cli([
    'entry',
    'create',
    '--spiffe-id',
    `spiffe://example.org/${path}`,
    '--parent-id',
    AGENT,
    '--selector',
    'unix:uid:1000',
    ...extra,
  ])

t.test(
  'create stores owner, purpose and risk; show prints and filters them; update changes them',
  async (t) => {
    const r = await create('payments', [
      '--owner',
      'team-pay',
      '--purpose',
      'settles invoices',
      '--risk',
      'high',
    ])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, 'Owner            : team-pay\n')
    t.match(r.stdout, 'Purpose          : settles invoices\n')
    t.match(r.stdout, 'Risk             : high\n')
    t.equal((await create('web', ['--risk', 'low'])).code, 0)
    const [pay] = await f.datastore.listEntries({ spiffeId: 'spiffe://example.org/payments' })
    t.match(pay, { owner: 'team-pay', purpose: 'settles invoices', risk: 'high' })

    const high = await f.cli(['entry', 'show', '--risk', 'high', '--output', 'json'])
    t.equal(high.code, 0, high.stderr)
    t.same(
      (JSON.parse(high.stdout) as { entries: { spiffe_id: string }[] }).entries.map((e) => e.spiffe_id),
      ['spiffe://example.org/payments'],
    )
    const owned = await f.cli(['entry', 'show', '--owner', 'team-pay'])
    t.match(owned.stdout, /Found 1 entry/)

    const up = await f.cli(['entry', 'update', '--entry-id', pay!.id, '--risk', 'medium', '--owner', ''])
    t.equal(up.code, 0, up.stderr)
    t.match(await f.datastore.getEntry(pay!.id), { owner: '', purpose: 'settles invoices', risk: 'medium' })
  },
)

t.test('a bad risk or an owner with control characters is refused, exit 2, nothing stored', async (t) => {
  const bad = await create('x', ['--risk', 'extreme'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--risk: expected low, medium or high/)
  const ctl = await create('y', ['--owner', 'a\u0007b'])
  t.equal(ctl.code, 2)
  t.match(ctl.stderr, /owner/)
  t.same(await f.datastore.listEntries(), [])
})

t.test('entry create --data carries owner, purpose and risk; a bad risk fails that entry only', async (t) => {
  const file = join(f.dir, 'entries.json')
  const entry = (path: string, extra: Record<string, unknown>) => ({
    spiffe_id: `spiffe://example.org/${path}`,
    parent_id: AGENT,
    selectors: [{ type: 'unix', value: 'uid:1000' }],
    ...extra,
  })
  await writeFile(
    file,
    JSON.stringify({
      entries: [entry('a', { owner: 'ops', purpose: 'batch', risk: 'medium' }), entry('b', { risk: 'huge' })],
    }),
  )
  const r = await f.cli(['entry', 'create', '--data', file])
  t.not(r.code, 0)
  t.match(r.stdout + r.stderr, /risk: expected low, medium or high/)
  const stored = await f.datastore.listEntries()
  t.same(
    stored.map((e) => [e.spiffeId, e.owner, e.purpose, e.risk]),
    [['spiffe://example.org/a', 'ops', 'batch', 'medium']],
  )
})
