// The admin API handlers through a real gRPC client on the real socket: input the CLI
// would never send (it validates locally) must still be refused by the server, the
// server must keep serving, and the datastore must stay consistent.
import { status } from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import { generateKeyPair } from '../../../../certs/keys/keys.js'
import { createCsr } from '../../../../certs/x509svid/csr.js'
import { AdminCallError, AdminClient } from '../../../../server/cli/admin-client.js'
import { ADMIN_MAX_RECEIVE_BYTES } from '../../../../server/endpoints/admin-api-server.js'
import { type AdminFixture, startAdminFixture } from '../../cli/admin-test-kit.js'

const WEB = 'spiffe://example.org/web'
const AGENT = 'spiffe://example.org/sigil/agent/join_token/x'
const SERVER = 'spiffe://example.org/sigil/server'

let f: AdminFixture
let admin: AdminClient
t.before(async () => {
  f = await startAdminFixture()
  admin = AdminClient.open(f.socketPath)
})
t.teardown(async () => {
  admin.close()
  await f.close()
})
t.afterEach(async () => {
  await f.datastore.integrityCheck()
  const health = await admin.call('Health', {})
  t.same(health, { serving: true, problems: [] }, 'still serving, datastore consistent')
  for (const e of await f.datastore.listEntries()) await f.datastore.deleteEntry(e.id)
})

const entry = (over: Record<string, unknown> = {}) => ({
  spiffe_id: WEB,
  parent_id: AGENT,
  selectors: [{ type: 'unix', value: 'uid:1' }],
  ...over,
})

async function refused(
  t: Test,
  p: Promise<unknown>,
  code: status,
  sigilCode?: string,
): Promise<AdminCallError | undefined> {
  try {
    await p
    t.fail('expected the call to be refused')
    return undefined
  } catch (e) {
    t.type(e, AdminCallError)
    const err = e as AdminCallError
    t.equal(err.status, code, `status ${status[code]} (${err.message})`)
    if (sigilCode) t.equal(err.sigilCode, sigilCode)
    return err
  }
}

t.test('CreateEntry refuses malformed entries with INVALID_ARGUMENT', async (t) => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['malformed caller-chosen id', { id: 'has space' }, 'ERR_INVALID_ARGUMENT'],
    ['server-assigned revision', { revision_number: 3 }, 'ERR_INVALID_ARGUMENT'],
    ['empty spiffe_id', { spiffe_id: '' }, 'ERR_INVALID_ARGUMENT'],
    ['trust domain ID', { spiffe_id: 'spiffe://example.org' }, 'ERR_SPIFFE_ID_INVALID'],
    ['foreign spiffe_id', { spiffe_id: 'spiffe://other.org/web' }, 'ERR_TRUST_DOMAIN_MISMATCH'],
    ['foreign parent', { parent_id: 'spiffe://other.org/agent' }, 'ERR_TRUST_DOMAIN_MISMATCH'],
    ['server as spiffe_id', { spiffe_id: SERVER }, 'ERR_ENTRY_INVALID'],
    ['server as parent without node', { parent_id: SERVER }, 'ERR_ENTRY_INVALID'],
    ['node with another parent', { node: true }, 'ERR_ENTRY_INVALID'],
    ['no selectors', { selectors: [] }, 'ERR_ENTRY_INVALID'],
    [
      'selector type with a colon',
      { selectors: [{ type: 'unix:uid', value: '1:2' }] },
      'ERR_SELECTOR_INVALID',
    ],
    ['selector without key', { selectors: [{ type: 'unix', value: 'uid' }] }, 'ERR_SELECTOR_INVALID'],
    ['negative TTL', { x509_svid_ttl: -1 }, 'ERR_INVALID_ARGUMENT'],
    ['bad DNS name', { dns_names: ['a..b'] }, 'ERR_INVALID_ARGUMENT'],
    ['hint with a newline', { hint: 'a\nb' }, 'ERR_INVALID_ARGUMENT'],
    ['federates with a path', { federates_with: ['spiffe://other.org/x'] }, 'ERR_INVALID_ARGUMENT'],
    [
      'too many DNS names',
      { dns_names: Array.from({ length: 65 }, (_, i) => `h${i}.example.org`) },
      'ERR_INVALID_ARGUMENT',
    ],
  ]
  for (const [name, over, code] of cases) {
    await t.test(name, (t) =>
      refused(t, admin.call('CreateEntry', { entry: entry(over) }), status.INVALID_ARGUMENT, code),
    )
  }
  await refused(t, admin.call('CreateEntry', {}), status.INVALID_ARGUMENT)
  t.equal(await f.datastore.countEntries(), 0, 'nothing written')
})

t.test('CreateEntry: a duplicate is ALREADY_EXISTS; a node alias hangs under the server', async (t) => {
  const { entry: created } = await admin.call('CreateEntry', { entry: entry() })
  t.equal(created?.revision_number, 0)
  await refused(t, admin.call('CreateEntry', { entry: entry() }), status.ALREADY_EXISTS, 'ERR_ENTRY_EXISTS')
  const alias = await admin.call('CreateEntry', {
    entry: {
      spiffe_id: 'spiffe://example.org/nodes/a',
      node: true,
      selectors: [{ type: 'x509pop', value: 'san:dns:n1' }],
    },
  })
  t.equal(alias.entry?.parent_id, SERVER)
  const explicit = await admin.call('CreateEntry', {
    entry: {
      spiffe_id: 'spiffe://example.org/nodes/b',
      parent_id: SERVER,
      node: true,
      selectors: [{ type: 'x509pop', value: 'san:dns:n1' }],
    },
  })
  t.equal(explicit.entry?.node, true)
  t.same(
    (
      await admin.call('CreateEntry', {
        entry: entry({
          spiffe_id: 'spiffe://example.org/f',
          federates_with: ['other.org', 'spiffe://other.org'],
        }),
      })
    ).entry?.federates_with,
    ['spiffe://other.org'],
    'federated trust domains normalized and de-duplicated',
  )
})

t.test('UpdateEntry: masks, immutable fields, node moves', async (t) => {
  const { entry: e } = await admin.call('CreateEntry', { entry: entry({ dns_names: ['a.example.org'] }) })
  const id = e?.id as string
  await refused(
    t,
    admin.call('UpdateEntry', { entry: { id, hint: 'x' }, update_mask: ['revision_number'] }),
    status.INVALID_ARGUMENT,
  )
  await refused(
    t,
    admin.call('UpdateEntry', { entry: { id, hint: 'x' }, update_mask: ['colour'] }),
    status.INVALID_ARGUMENT,
  )
  await refused(
    t,
    admin.call('UpdateEntry', { entry: { hint: 'x' }, update_mask: ['hint'] }),
    status.INVALID_ARGUMENT,
  )
  await refused(
    t,
    admin.call('UpdateEntry', { entry: { id: 'nope', hint: 'x' }, update_mask: ['hint'] }),
    status.NOT_FOUND,
    'ERR_NOT_FOUND',
  )
  await refused(
    t,
    admin.call('UpdateEntry', { entry: { id, selectors: [] }, update_mask: ['selectors'] }),
    status.INVALID_ARGUMENT,
  )
  t.equal((await f.datastore.getEntry(id))?.revisionNumber, 0, 'refused updates change nothing')

  const hinted = await admin.call('UpdateEntry', { entry: { id, hint: 'h' }, update_mask: ['hint'] })
  t.match(hinted.entry, { hint: 'h', revision_number: 1, dns_names: ['a.example.org'], parent_id: AGENT })
  const node = await admin.call('UpdateEntry', { entry: { id, node: true }, update_mask: ['node'] })
  t.match(node.entry, { node: true, parent_id: SERVER, revision_number: 2 })
  await refused(
    t,
    admin.call('UpdateEntry', { entry: { id, node: false }, update_mask: ['node'] }),
    status.INVALID_ARGUMENT,
    'ERR_ENTRY_INVALID',
  )
  const full = await admin.call('UpdateEntry', {
    entry: { ...entry({ spiffe_id: 'spiffe://example.org/web2' }), id },
  })
  t.match(full.entry, {
    spiffe_id: 'spiffe://example.org/web2',
    node: false,
    hint: '',
    dns_names: [],
    revision_number: 3,
  })
})

t.test('ListEntries and agent calls validate their filters', async (t) => {
  await refused(
    t,
    admin.call('ListEntries', { spiffe_id: 'nope' }),
    status.INVALID_ARGUMENT,
    'ERR_SPIFFE_ID_INVALID',
  )
  await refused(
    t,
    admin.call('ListEntries', { selectors: [{ type: 'UNIX', value: 'a:b' }] }),
    status.INVALID_ARGUMENT,
  )
  t.same((await admin.call('ListEntries', { entry_id: 'missing' })).entries, [])
  await refused(t, admin.call('GetAgent', { spiffe_id: '' }), status.INVALID_ARGUMENT)
  await refused(t, admin.call('EvictAgent', { spiffe_id: 'spiffe://example.org/none' }), status.NOT_FOUND)
  await refused(t, admin.call('BanAgent', { spiffe_id: 'spiffe://example.org/none' }), status.NOT_FOUND)
  await refused(t, admin.call('DeleteEntry', { entry_id: '' }), status.INVALID_ARGUMENT)
  await refused(t, admin.call('ListSvids', { since_seconds: -5 }), status.INVALID_ARGUMENT)
  await refused(t, admin.call('CreateJoinToken', { spiffe_id: WEB, ttl: -1 }), status.INVALID_ARGUMENT)
})

t.test('MintX509Svid refuses garbage CSRs and records nothing', async (t) => {
  const csr = await createCsr(await generateKeyPair('ec-p256'))
  const broken = Buffer.from(csr)
  broken[broken.length - 5] = (broken[broken.length - 5] ?? 0) ^ 0xff
  const cases: [string, Record<string, unknown>, string][] = [
    ['no CSR', { spiffe_id: WEB }, 'ERR_CSR_INVALID'],
    ['garbage CSR', { spiffe_id: WEB, csr: Buffer.from('not a csr') }, 'ERR_CSR_INVALID'],
    ['badly signed CSR', { spiffe_id: WEB, csr: broken }, 'ERR_CSR_INVALID'],
    ['huge CSR', { spiffe_id: WEB, csr: Buffer.alloc(20_000, 0x30) }, 'ERR_CSR_INVALID'],
    ['foreign ID', { spiffe_id: 'spiffe://other.org/web', csr }, 'ERR_TRUST_DOMAIN_MISMATCH'],
    ['negative TTL', { spiffe_id: WEB, csr, ttl: -3 }, 'ERR_INVALID_ARGUMENT'],
    ['bad DNS name', { spiffe_id: WEB, csr, dns_names: ['x y'] }, 'ERR_INVALID_ARGUMENT'],
  ]
  for (const [name, req, code] of cases) {
    await t.test(name, (t) => refused(t, admin.call('MintX509Svid', req), status.INVALID_ARGUMENT, code))
  }
  t.same(await f.datastore.listIssuedSvids(), [], 'no issuance recorded')
  const ok = await admin.call('MintX509Svid', { spiffe_id: WEB, csr, ttl: 60 })
  t.equal(ok.svid?.spiffe_id, WEB)
  t.equal(ok.bundle?.trust_domain, 'example.org')
  t.equal((await f.datastore.listIssuedSvids())[0]?.serialOrJti, ok.svid?.serial)
})

t.test('MintJwtSvid refuses empty audiences', async (t) => {
  await refused(t, admin.call('MintJwtSvid', { spiffe_id: WEB, audience: [] }), status.INVALID_ARGUMENT)
  await refused(t, admin.call('MintJwtSvid', { spiffe_id: WEB, audience: [''] }), status.INVALID_ARGUMENT)
  await refused(
    t,
    admin.call('MintJwtSvid', { spiffe_id: 'spiffe://other.org/x', audience: ['a'] }),
    status.INVALID_ARGUMENT,
  )
})

t.test('an oversized request is refused and the server keeps serving', async (t) => {
  await refused(
    t,
    admin.call('CreateEntry', { entry: entry({ hint: 'x'.repeat(ADMIN_MAX_RECEIVE_BYTES + 1024) }) }),
    status.RESOURCE_EXHAUSTED,
  )
  const { count } = await admin.call('CountEntries', {})
  t.equal(count, 0)
})

t.test('the bundle answer is the published bundle', async (t) => {
  const { bundle } = await admin.call('GetBundle', {})
  const current = f.ca.currentBundle()
  t.equal(bundle?.trust_domain, 'example.org')
  t.equal(bundle?.sequence_number, current.sequenceNumber)
  t.match(JSON.parse(bundle?.spiffe_bundle.toString('utf8') ?? '{}'), {
    spiffe_sequence: current.sequenceNumber,
  })
})
