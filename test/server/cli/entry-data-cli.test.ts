// `entry create --data FILE|-` with SPIRE's {"entries":[...]} JSON against a real admin API:
// and `entry delete --file` with SPIRE's {"ids":[...]}: per-entry results (the good entries are created, each bad one reported, exit 2), stdin,
// SPIRE-only fields refused per entry, and a document that is not {"entries":[...]} refused whole.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import { runCli } from '../../../server/cli/run-cli.js'
import { type AdminFixture, capture, startAdminFixture } from './admin-test-kit.js'

const AGENT = { trust_domain: 'example.org', path: '/sigil/agent/join_token/abc' }

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())
t.afterEach(async () => {
  for (const e of await f.datastore.listEntries()) await f.datastore.deleteEntry(e.id)
})

function spireEntry(i: number): Record<string, unknown> {
  return {
    spiffe_id: { trust_domain: 'example.org', path: `/svc/${i}` },
    parent_id: AGENT,
    selectors: [
      { type: 'unix', value: `uid:${1000 + i}` },
      { type: 'unix', value: 'gid:50' },
    ],
    x509_svid_ttl: 600,
    jwt_svid_ttl: 300,
    dns_names: [`svc${i}.example.org`],
    admin: false,
    federates_with: ['other.org'],
    hint: `h${i}`,
  }
}

async function writeData(name: string, doc: unknown): Promise<string> {
  const path = join(f.dir, name)
  await writeFile(path, typeof doc === 'string' ? doc : JSON.stringify(doc))
  return path
}

t.test('1,000 entries with one bad: the 999 are created, the bad one is reported, exit 2', async (t) => {
  const entries = Array.from({ length: 1000 }, (_, i) => spireEntry(i))
  entries[500] = { ...spireEntry(500), selectors: [{ type: 'unix', value: 'uid:not-a-number' }] }
  const path = await writeData('batch.json', { entries })
  const r = await f.cli(['entry', 'create', '--data', path, '--output', 'json'])
  t.equal(r.code, 2, r.stderr)
  const { results } = JSON.parse(r.stdout) as {
    results: { index: number; status: { code: number; message: string }; entry?: { spiffe_id: string } }[]
  }
  t.equal(results.length, 1000)
  const failed = results.filter((x) => x.status.code !== 0)
  t.same(
    failed.map((x) => x.index),
    [500],
  )
  t.equal(failed[0]?.status.code, 3, 'INVALID_ARGUMENT')
  t.match(failed[0]?.status.message, /selectors/)
  t.equal(results[0]?.entry?.spiffe_id, 'spiffe://example.org/svc/0')
  const stored = await f.datastore.listEntries()
  t.equal(stored.length, 999)
  t.notOk(
    stored.some((e) => e.spiffeId === 'spiffe://example.org/svc/500'),
    'the bad entry is not stored',
  )
  t.match(
    stored.find((e) => e.spiffeId === 'spiffe://example.org/svc/7'),
    {
      parentId: 'spiffe://example.org/sigil/agent/join_token/abc',
      x509SvidTtl: 600,
      jwtSvidTtl: 300,
      dnsNames: ['svc7.example.org'],
      hint: 'h7',
      federatesWith: ['other.org'],
    },
  )
})

t.test('an entry the server refuses is reported with its status; the others are created', async (t) => {
  const foreign = { ...spireEntry(1), spiffe_id: { trust_domain: 'other.org', path: '/x' } }
  const path = await writeData('server-bad.json', { entries: [spireEntry(0), foreign, spireEntry(2)] })
  const r = await f.cli(['entry', 'create', '--data', path])
  t.equal(r.code, 2, r.stderr)
  t.match(r.stdout, /^Entry 0 created\n\nEntry ID/)
  t.match(r.stdout, /Entry 1 FAILED \(code = 3, message = [^\n]+\): spiffe:\/\/other\.org\/x\n/)
  t.match(r.stdout, /2 of 3 entries created, 1 failed\n$/)
  t.equal((await f.datastore.listEntries()).length, 2)
})

t.test(
  '--data - reads stdin; SPIRE-only fields are refused per entry; id and expires_at are kept',
  async (t) => {
    const doc = {
      entries: [
        spireEntry(0),
        { ...spireEntry(1), downstream: true },
        { ...spireEntry(2), id: 'chosen-id' },
        { ...spireEntry(3), expires_at: 4_000_000_000 },
        { ...spireEntry(4), bogus: 1 },
        { ...spireEntry(5), spiffe_id: 'spiffe://example.org/as-string' },
        { ...spireEntry(6), id: 'bad id!' },
        { ...spireEntry(7), id: 'chosen-id' },
        { ...spireEntry(8), entry_expiry: '4000000001' },
        { ...spireEntry(9), expires_at: 'soon' },
      ],
    }
    const out = capture()
    const err = capture()
    const code = await runCli(['entry', 'create', '--data', '-', '--output', 'json'], {
      stdout: out.stream,
      stderr: err.stream,
      env: { SIGIL_ADMIN_SOCKET: f.socketPath },
      stdin: Readable.from([Buffer.from(JSON.stringify(doc))]),
    })
    t.equal(code, 2, err.text())
    const { results } = JSON.parse(out.text()) as { results: { status: { code: number; message: string } }[] }
    t.same(
      results.map((x) => x.status.code),
      [0, 3, 0, 0, 3, 0, 3, 6, 0, 3],
    )
    t.match(results[1]?.status.message, /downstream/)
    t.match(results[4]?.status.message, /unknown field "bogus"/)
    t.match(results[6]?.status.message, /id: 1 to 255 characters/)
    t.match(results[7]?.status.message, /chosen-id already exists/)
    t.match(results[9]?.status.message, /expires_at: unix seconds/)
    const stored = await f.datastore.listEntries()
    t.same(stored.map((e) => e.spiffeId).sort(), [
      'spiffe://example.org/as-string',
      'spiffe://example.org/svc/0',
      'spiffe://example.org/svc/2',
      'spiffe://example.org/svc/3',
      'spiffe://example.org/svc/8',
    ])
    t.equal(stored.find((e) => e.spiffeId.endsWith('/svc/2'))?.id, 'chosen-id', 'the caller-chosen ID')
    t.equal(stored.find((e) => e.spiffeId.endsWith('/svc/3'))?.entryExpiry, 4_000_000_000, 'expires_at')
    t.equal(stored.find((e) => e.spiffeId.endsWith('/svc/8'))?.entryExpiry, 4_000_000_001, 'entry_expiry')
  },
)

t.test(
  'a file that is not {"entries":[...]} is refused whole; entry flags with --data are refused',
  async (t) => {
    for (const doc of ['not json', '{"entry": []}', '[1]']) {
      const r = await f.cli(['entry', 'create', '--data', await writeData('bad.json', doc)])
      t.equal(r.code, 2, doc)
      t.match(r.stderr, /--data: /)
    }
    const missing = await f.cli(['entry', 'create', '--data', join(f.dir, 'nope.json')])
    t.equal(missing.code, 2)
    t.match(missing.stderr, /data .*nope\.json: ENOENT/)
    const mixed = await f.cli([
      'entry',
      'create',
      '--data',
      await writeData('one.json', { entries: [spireEntry(0)] }),
      '--spiffe-id',
      'spiffe://example.org/x',
    ])
    t.equal(mixed.code, 2)
    t.match(mixed.stderr, /leave out the entry flags/)
    const spire = await f.cli([
      'entry',
      'create',
      '-data',
      await writeData('one.json', { entries: [spireEntry(0)] }),
    ])
    t.equal(spire.code, 0, spire.stderr)
    t.equal((await f.datastore.listEntries()).length, 1)
  },
)

t.test(
  'entry delete --file {"ids":[...]}: the others are deleted, an unknown ID is reported, exit 2',
  async (t) => {
    const entries = Array.from({ length: 50 }, (_, i) => spireEntry(i))
    const created = await f.cli([
      'entry',
      'create',
      '--data',
      await writeData('50.json', { entries }),
      '--output',
      'json',
    ])
    t.equal(created.code, 0, created.stderr)
    const ids = (JSON.parse(created.stdout) as { results: { entry: { id: string } }[] }).results.map(
      (r) => r.entry.id,
    )
    const keep = ids.slice(40)
    const path = await writeData('ids.json', {
      ids: [...ids.slice(0, 20), 'no-such-entry', ...ids.slice(20, 40), 7],
    })
    const r = await f.cli(['entry', 'delete', '-file', path])
    t.equal(r.code, 2, r.stderr)
    t.match(r.stdout, `Deleted entry with ID: ${ids[0]}\n`)
    t.match(r.stdout, /Failed to delete entry with ID "no-such-entry" \(code = 5, message = [^\n]+\)\n/)
    t.match(r.stdout, /Failed to delete entry with ID 7 \(code = 3, /)
    t.match(r.stdout, /40 of 42 entries deleted, 2 failed\n$/)
    t.same((await f.datastore.listEntries()).map((e) => e.id).sort(), [...keep].sort())

    const out = capture()
    const code = await runCli(['entry', 'delete', '--file', '-', '--output', 'json'], {
      stdout: out.stream,
      stderr: capture().stream,
      env: { SIGIL_ADMIN_SOCKET: f.socketPath },
      stdin: Readable.from([Buffer.from(JSON.stringify({ ids: keep }))]),
    })
    t.equal(code, 0)
    const { results } = JSON.parse(out.text()) as { results: { id: string; status: { code: number } }[] }
    t.same(
      results.map((x) => [x.id, x.status.code]),
      keep.map((id) => [id, 0]),
    )
    t.equal((await f.datastore.listEntries()).length, 0)

    const both = await f.cli(['entry', 'delete', '--file', path, '--entry-id', 'x'])
    t.equal(both.code, 2)
    t.match(both.stderr, /either --entry-id or --file/)
    const bad = await f.cli(['entry', 'delete', '--file', await writeData('bad-ids.json', '{"entries":[]}')])
    t.equal(bad.code, 2)
    t.match(bad.stderr, /expected \{"ids": \[ ... \]\}/)
    const none = await f.cli(['entry', 'delete'])
    t.equal(none.code, 2)
    t.match(none.stderr, /--entry-id is required/)
  },
)
