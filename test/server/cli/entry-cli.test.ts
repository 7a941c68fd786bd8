import { join } from 'node:path'
import t, { type Test } from 'tap'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const WEB = 'spiffe://example.org/ns/prod/sa/web'
const AGENT = 'spiffe://example.org/sigil/agent/join_token/abc'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())
t.afterEach(async () => {
  for (const e of await f.datastore.listEntries()) await f.datastore.deleteEntry(e.id)
})

const createArgs = (extra: string[] = []) => [
  'entry',
  'create',
  '--spiffe-id',
  WEB,
  '--parent-id',
  AGENT,
  '--selector',
  'unix:uid:1000',
  ...extra,
]

function oneLine(t: Test, stderr: string): void {
  t.equal(stderr.split('\n').length, 2, 'exactly one line on stderr')
  t.ok(stderr.endsWith('\n'))
}

t.test('entry create stores the entry and prints it', async (t) => {
  const r = await f.cli(
    createArgs([
      '--selector',
      'unix:gid:50',
      '--x509-svid-ttl',
      '10m',
      '--jwt-svid-ttl',
      '90',
      '--dns-name',
      'web.example.org',
      '--hint',
      'frontend',
      '--admin',
      '--federates-with',
      'spiffe://other.org',
      '--federates-with',
      'third.org',
    ]),
  )
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '')
  const [stored] = await f.datastore.listEntries()
  t.ok(stored, 'one entry stored')
  t.match(stored, {
    spiffeId: WEB,
    parentId: AGENT,
    x509SvidTtl: 600,
    jwtSvidTtl: 90,
    dnsNames: ['web.example.org'],
    hint: 'frontend',
    admin: true,
    node: false,
    federatesWith: ['other.org', 'third.org'],
  })
  t.same(
    stored?.selectors.map((s) => `${s.type}:${s.value}`),
    ['unix:gid:50', 'unix:uid:1000'],
  )
  t.match(r.stdout, /^Entry created\n\nEntry ID {9}: [0-9a-f-]{36}\n/)
  t.match(r.stdout, `SPIFFE ID        : ${WEB}\n`)
  t.match(r.stdout, 'Selector         : unix:gid:50\nSelector         : unix:uid:1000\n')
  t.match(r.stdout, 'X509-SVID TTL    : 600s\n')
  t.match(r.stdout, 'FederatesWith    : spiffe://other.org\n')
})

t.test('entry create --output json prints one JSON document', async (t) => {
  const r = await f.cli(createArgs(['--output', 'json']))
  t.equal(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout)
  t.match(doc.entry, { spiffe_id: WEB, parent_id: AGENT, revision_number: 0, node: false })
  t.same(doc.entry.selectors, [{ type: 'unix', value: 'uid:1000' }])
  t.equal(doc.entry.id, (await f.datastore.listEntries())[0]?.id)
})

t.test('a duplicate entry exits 2 with one line and writes nothing', async (t) => {
  t.equal((await f.cli(createArgs())).code, 0)
  const r = await f.cli(createArgs())
  t.equal(r.code, 2)
  t.equal(r.stdout, '')
  oneLine(t, r.stderr)
  t.match(r.stderr, /^sigil-server entry create: .*already exists/)
  t.equal(await f.datastore.countEntries(), 1, 'count unchanged')
})

t.test('invalid input is refused locally with exit 2 and never reaches the server', async (t) => {
  const offline = { SIGIL_ADMIN_SOCKET: join(f.dir, 'no-such.sock') }
  const cases: [string, string[]][] = [
    [
      'bad SPIFFE ID',
      [
        'entry',
        'create',
        '--spiffe-id',
        'http://example.org/x',
        '--parent-id',
        AGENT,
        '--selector',
        'unix:uid:1',
      ],
    ],
    [
      'bad parent ID',
      [
        'entry',
        'create',
        '--spiffe-id',
        WEB,
        '--parent-id',
        'spiffe://example.org/a//b',
        '--selector',
        'unix:uid:1',
      ],
    ],
    [
      'selector without key',
      ['entry', 'create', '--spiffe-id', WEB, '--parent-id', AGENT, '--selector', 'unix'],
    ],
    [
      'selector with empty value',
      ['entry', 'create', '--spiffe-id', WEB, '--parent-id', AGENT, '--selector', 'unix:uid:'],
    ],
    ['bad DNS name', createArgs(['--dns-name', '-bad-.example.org'])],
    ['bad TTL', createArgs(['--x509-svid-ttl', '1y'])],
    ['bad federated trust domain', createArgs(['--federates-with', 'spiffe://Other.org'])],
    ['missing --selector', ['entry', 'create', '--spiffe-id', WEB, '--parent-id', AGENT]],
    ['missing --parent-id', ['entry', 'create', '--spiffe-id', WEB, '--selector', 'unix:uid:1']],
    ['--node with --parent-id', createArgs(['--node'])],
    ['unknown flag', createArgs(['--parentid', AGENT])],
    ['positional argument', createArgs(['extra'])],
  ]
  for (const [name, argv] of cases) {
    const r = await f.cli(argv, offline)
    t.equal(r.code, 2, `${name}: exit 2`)
    t.equal(r.stdout, '', `${name}: nothing on stdout`)
    t.equal(r.stderr.split('\n').length, 2, `${name}: one line (${r.stderr.trim()})`)
    t.match(r.stderr, /^sigil-server entry create: /, `${name}: names the command`)
    t.notMatch(r.stderr, /admin socket|reach/, `${name}: refused before connecting`)
  }
  t.equal(await f.datastore.countEntries(), 0, 'nothing written')
})

t.test('input only the server can judge is refused with exit 2', async (t) => {
  const other = await f.cli([
    'entry',
    'create',
    '--spiffe-id',
    'spiffe://other.org/web',
    '--parent-id',
    AGENT,
    '--selector',
    'unix:uid:1',
  ])
  t.equal(other.code, 2)
  t.match(other.stderr, /not a member of trust domain "example\.org"/)
  oneLine(t, other.stderr)
  const own = await f.cli(createArgs(['--federates-with', 'spiffe://example.org']))
  t.equal(own.code, 2)
  t.match(own.stderr, /own trust domain/)
  t.equal(await f.datastore.countEntries(), 0)
})

t.test('entry create --node makes a node alias under the server ID', async (t) => {
  const r = await f.cli([
    'entry',
    'create',
    '--node',
    '--spiffe-id',
    'spiffe://example.org/nodes/k8s',
    '--selector',
    'x509pop:subject:cn:node1',
    '--output',
    'json',
  ])
  t.equal(r.code, 0, r.stderr)
  const { entry } = JSON.parse(r.stdout)
  t.equal(entry.parent_id, 'spiffe://example.org/sigil/server')
  t.equal(entry.node, true)
})

t.test('entry show filters (AND) and prints a stable listing', async (t) => {
  await f.cli(createArgs())
  await f.cli(createArgs(['--selector', 'unix:gid:7']))
  await f.cli([
    'entry',
    'create',
    '--spiffe-id',
    'spiffe://example.org/db',
    '--parent-id',
    AGENT,
    '--selector',
    'unix:uid:2',
  ])
  const all = await f.cli(['entry', 'show'])
  t.equal(all.code, 0, all.stderr)
  t.match(all.stdout, /^Found 3 entries\n\n/)
  const bySpiffe = JSON.parse((await f.cli(['entry', 'show', '--spiffe-id', WEB, '--output', 'json'])).stdout)
  t.equal(bySpiffe.entries.length, 2)
  const bySelector = JSON.parse(
    (
      await f.cli([
        'entry',
        'show',
        '--selector',
        'unix:gid:7',
        '--selector',
        'unix:uid:1000',
        '--output',
        'json',
      ])
    ).stdout,
  )
  t.equal(bySelector.entries.length, 1, 'entries having every selector')
  const id = bySelector.entries[0].id
  const byId = await f.cli(['entry', 'show', '--entry-id', id])
  t.match(byId.stdout, /^Found 1 entry\n\n/)
  t.match(byId.stdout, `Entry ID         : ${id}\n`)
  const idAndOtherParent = JSON.parse(
    (
      await f.cli([
        'entry',
        'show',
        '--entry-id',
        id,
        '--parent-id',
        'spiffe://example.org/x',
        '--output',
        'json',
      ])
    ).stdout,
  )
  t.same(idAndOtherParent.entries, [], 'filters are ANDed with --entry-id')
  const none = await f.cli(['entry', 'show', '--parent-id', 'spiffe://example.org/nobody'])
  t.equal(none.stdout, 'Found 0 entries\n')
  const again = await f.cli(['entry', 'show'])
  t.equal(again.stdout, all.stdout, 'pretty output is stable')
})

t.test('entry show --match-selectors-on, --federates-with and --hint filter as SPIRE does', async (t) => {
  // A: uid:1000 · B: uid:1000 + gid:7, federates with other.org and third.org, hint "fe" · C: gid:7
  await f.cli(createArgs())
  await f.cli(
    createArgs([
      '--selector',
      'unix:gid:7',
      '--federates-with',
      'other.org',
      '--federates-with',
      'third.org',
      '--hint',
      'fe',
    ]),
  )
  await f.cli([
    'entry',
    'create',
    '--spiffe-id',
    'spiffe://example.org/c',
    '--parent-id',
    AGENT,
    '--selector',
    'unix:gid:7',
  ])
  const ids = async (...args: string[]) => {
    const r = await f.cli(['entry', 'show', ...args, '--output', 'json'])
    t.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return (JSON.parse(r.stdout).entries as { spiffe_id: string; selectors: { value: string }[] }[])
      .map(
        (e) =>
          `${e.spiffe_id.replace('spiffe://example.org', '')}[${e.selectors.map((s) => s.value).join(',')}]`,
      )
      .sort()
  }
  const A = '/ns/prod/sa/web[uid:1000]'
  const B = '/ns/prod/sa/web[gid:7,uid:1000]'
  const C = '/c[gid:7]'
  const sel = ['--selector', 'unix:uid:1000', '--selector', 'unix:gid:7']
  t.same(await ids(...sel), [B], 'superset by default')
  t.same(await ids(...sel, '--match-selectors-on', 'superset'), [B])
  t.same(await ids('--selector', 'unix:uid:1000', '--match-selectors-on', 'exact'), [A])
  t.same(await ids(...sel, '--match-selectors-on', 'any'), [A, B, C].sort())
  t.same(await ids('--selector', 'unix:gid:7', '--match-selectors-on', 'subset'), [C])
  t.same(await ids(...sel, '--match-selectors-on', 'subset'), [A, B, C].sort())
  t.same(
    await ids('-selector', 'unix:gid:7', '-matchSelectorsOn', 'any', '-spiffeID', 'spiffe://example.org/c'),
    [C],
  )
  t.same(await ids('--federates-with', 'other.org'), [B])
  t.same(await ids('--federates-with', 'spiffe://third.org', '--federates-with', 'other.org'), [B])
  t.same(await ids('--federates-with', 'fourth.org'), [])
  t.same(await ids('--hint', 'fe'), [B])
  t.same(await ids('--hint', 'other'), [])
  const badMode = await f.cli(['entry', 'show', ...sel, '--match-selectors-on', 'all'])
  t.equal(badMode.code, 2)
  oneLine(t, badMode.stderr)
  const noSelector = await f.cli(['entry', 'show', '--match-selectors-on', 'exact'])
  t.equal(noSelector.code, 2)
  t.match(noSelector.stderr, /--match-selectors-on needs --selector/)
})

t.test('entry update changes only the given fields and bumps the revision', async (t) => {
  const created = JSON.parse(
    (await f.cli(createArgs(['--dns-name', 'a.example.org', '--admin', '--output', 'json']))).stdout,
  ).entry
  const r = await f.cli([
    'entry',
    'update',
    '--entry-id',
    created.id,
    '--selector',
    'unix:uid:2000',
    '--x509-svid-ttl',
    '2h',
    '--no-admin',
    '--output',
    'json',
  ])
  t.equal(r.code, 0, r.stderr)
  const updated = JSON.parse(r.stdout).entry
  t.equal(updated.revision_number, 1, 'revision bumped')
  t.same(updated.selectors, [{ type: 'unix', value: 'uid:2000' }])
  t.equal(updated.x509_svid_ttl, 7200)
  t.equal(updated.admin, false)
  t.same(updated.dns_names, ['a.example.org'], 'untouched fields keep their values')
  t.equal(updated.parent_id, AGENT)
  const stored = await f.datastore.getEntry(created.id)
  t.equal(stored?.revisionNumber, 1)
  const pretty = await f.cli(['entry', 'update', '--entry-id', created.id, '--hint', 'x'])
  t.equal(pretty.code, 0)
  t.match(pretty.stdout, /^Entry updated\n\n[\s\S]*Revision {9}: 2\n/)
  const reset = JSON.parse(
    (await f.cli(['entry', 'update', '--entry-id', created.id, '--x509-svid-ttl', '0', '--output', 'json']))
      .stdout,
  )
  t.equal(reset.entry.x509_svid_ttl, 0, 'a TTL of 0 goes back to the server default')
})

t.test('entry update refuses nothing-to-do, unknown entries and duplicates', async (t) => {
  const a = JSON.parse((await f.cli(createArgs(['--output', 'json']))).stdout).entry
  const b = JSON.parse(
    (await f.cli(createArgs(['--selector', 'unix:gid:1', '--output', 'json']))).stdout,
  ).entry
  const empty = await f.cli(['entry', 'update', '--entry-id', a.id])
  t.equal(empty.code, 2)
  t.match(empty.stderr, /nothing to update/)
  const unknown = await f.cli(['entry', 'update', '--entry-id', 'no-such-entry', '--hint', 'x'])
  t.equal(unknown.code, 2, 'NOT_FOUND exits 2')
  t.match(unknown.stderr, /no registration entry/)
  const dup = await f.cli(['entry', 'update', '--entry-id', b.id, '--selector', 'unix:uid:1000'])
  t.equal(dup.code, 2, 'a duplicate after update exits 2')
  t.equal((await f.datastore.getEntry(b.id))?.revisionNumber, 0, 'nothing changed')
  const noId = await f.cli(['entry', 'update', '--hint', 'x'])
  t.equal(noId.code, 2)
  t.match(noId.stderr, /--entry-id is required/)
})

t.test('entry delete removes the entry; entry count counts', async (t) => {
  const a = JSON.parse((await f.cli(createArgs(['--output', 'json']))).stdout).entry
  await f.cli(createArgs(['--selector', 'unix:gid:1']))
  t.same(await f.cli(['entry', 'count']), { code: 0, stdout: '2 registration entries\n', stderr: '' })
  t.same(JSON.parse((await f.cli(['entry', 'count', '--output', 'json'])).stdout), { count: 2 })
  const del = await f.cli(['entry', 'delete', '--entry-id', a.id])
  t.equal(del.code, 0, del.stderr)
  t.match(del.stdout, `Entry deleted\n\nEntry ID         : ${a.id}\n`)
  t.equal(await f.datastore.getEntry(a.id), undefined)
  t.equal((await f.cli(['entry', 'count'])).stdout, '1 registration entry\n')
  const again = await f.cli(['entry', 'delete', '--entry-id', a.id, '--output', 'json'])
  t.equal(again.code, 2)
  t.equal(again.stdout, '')
  const json = JSON.parse(
    (
      await f.cli([
        'entry',
        'delete',
        '--entry-id',
        (await f.datastore.listEntries())[0]!.id,
        '--output',
        'json',
      ])
    ).stdout,
  )
  t.match(json.entry, { spiffe_id: WEB })
})

t.test(
  'entry create --entry-id and --entry-expiry (SPIRE -entryID, -entryExpiry); update changes the expiry',
  async (t) => {
    const r = await f.cli(createArgs(['--entry-id', 'web-prod:1', '--entry-expiry', '4000000000']))
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, /Entry ID\s+: web-prod:1/)
    t.match(r.stdout, /Entry expiry\s+: 2096-10-02T07:06:40Z/)
    const stored = await f.datastore.getEntry('web-prod:1')
    t.equal(stored?.entryExpiry, 4_000_000_000)

    const taken = await f.cli([
      'entry',
      'create',
      '--spiffe-id',
      `${WEB}/2`,
      '--parent-id',
      AGENT,
      '--selector',
      'unix:uid:1001',
      '--entry-id',
      'web-prod:1',
    ])
    t.equal(taken.code, 2, 'a taken entry ID is ALREADY_EXISTS (exit 2)')
    t.match(taken.stderr, /an entry with ID web-prod:1 already exists/)
    oneLine(t, taken.stderr)
    for (const bad of ['has space', '', 'x'.repeat(256), 'a/b']) {
      const refused = await f.cli(createArgs(['--entry-id', bad]))
      t.equal(refused.code, 2, `--entry-id ${JSON.stringify(bad.slice(0, 20))}`)
    }
    for (const bad of ['-1', 'tomorrow', '1e9', '99999999999999999']) {
      const refused = await f.cli(createArgs(['--entry-expiry', bad]))
      t.equal(refused.code, 2, `--entry-expiry ${bad}`)
      t.match(refused.stderr, /entry-expiry/)
    }
    const spire = await f.cli([
      'entry',
      'update',
      '-entryID',
      'web-prod:1',
      '-entryExpiry',
      '0',
      '--output',
      'json',
    ])
    t.equal(spire.code, 0, spire.stderr)
    t.equal(Number(JSON.parse(spire.stdout).entry.expires_at), 0, 'SPIRE flags: the expiry cleared')
    t.equal((await f.datastore.getEntry('web-prod:1'))?.entryExpiry, 0)
  },
)
