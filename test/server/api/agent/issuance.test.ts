// Sync, X509-SVID batches and JWT-SVIDs over real gRPC/mTLS: an agent gets only its own
// entries, SPIFFE ID / DNS names / TTL come from the entry (never the CSR), every SVID
// passes `openssl verify`, every issuance is recorded, and refusals are logged.
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { status } from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import { encodeSpiffeBundle } from '../../../../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../../../../certs/bundle/trust-bundle.js'
import { validateJwtSvid } from '../../../../certs/jwtsvid/validate-jwt-svid.js'
import { generateKeyPair } from '../../../../certs/keys/keys.js'
import { TrustDomain } from '../../../../certs/spiffeid/trust-domain.js'
import { createCsr } from '../../../../certs/x509svid/csr.js'
import { pemToCertificates } from '../../../../certs/x509svid/pem.js'
import type { BatchNewX509SvidResponse__Output } from '../../../../proto/generated/sigil/agent/v1/BatchNewX509SvidResponse.js'
import type { GetBundleResponse__Output } from '../../../../proto/generated/sigil/agent/v1/GetBundleResponse.js'
import type { NewJwtSvidResponse__Output } from '../../../../proto/generated/sigil/agent/v1/NewJwtSvidResponse.js'
import type { SyncAuthorizedEntriesResponse__Output } from '../../../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import { createTestCa } from '../../../helpers/testca.js'
import { opensslVerify } from '../../ca/ca-test-kit.js'
import {
  attestJoinToken,
  attestX509pop,
  createJoinToken,
  entryInput,
  type Kit,
  sigilCode,
  startKit,
  unary,
} from './agent-api-test-kit.js'

/** A CSR (DER) made by openssl that asks for its own names: they must be ignored. */
function greedyCsr(dir: string): Buffer {
  const key = join(dir, 'greedy.key')
  const csr = join(dir, 'greedy.csr')
  execFileSync(
    '/usr/bin/openssl',
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-outform',
      'DER',
      '-subj',
      '/CN=evil.example.com',
      '-addext',
      'subjectAltName=DNS:evil.example.com,URI:spiffe://example.org/admin',
    ],
    { stdio: 'pipe' },
  )
  return readFileSync(csr)
}

async function setup(t: Test) {
  const kit = await startKit(t)
  const a = await attestJoinToken(kit, await createJoinToken(kit))
  const b = await attestJoinToken(kit, await createJoinToken(kit))
  const entryA = await kit.ds.createEntry(
    entryInput({
      spiffeId: 'spiffe://example.org/web',
      parentId: a.svid.spiffe_id,
      dnsNames: ['web.example.org', 'www.example.org'],
      x509SvidTtl: 600,
      jwtSvidTtl: 120,
      federatesWith: ['other.org'],
    }),
  )
  const entryB = await kit.ds.createEntry(
    entryInput({ spiffeId: 'spiffe://example.org/db', parentId: b.svid.spiffe_id }),
  )
  return { kit, a, b, entryA, entryB, clientA: kit.agentClient(a), clientB: kit.agentClient(b) }
}

function roots(kit: Kit): Buffer[] {
  return [...kit.ca.currentBundle().x509Authorities]
}

t.test("sync returns only the agent's entries, its bundle and the federated bundles named", async (t) => {
  const { kit, clientA, entryA } = await setup(t)
  const other = await createTestCa({ trustDomain: 'other.org' })
  const otherBundle = TrustBundle.create({
    trustDomain: TrustDomain.parse('other.org'),
    x509Authorities: [other.rootDer],
  })
  await kit.ds.setBundle('other.org', {
    spiffeBundleJson: encodeSpiffeBundle(otherBundle),
    sequenceNumber: 7,
  })
  await kit.ds.setBundle('unrelated.org', {
    spiffeBundleJson: encodeSpiffeBundle(otherBundle),
    sequenceNumber: 1,
  })

  const res = await unary<SyncAuthorizedEntriesResponse__Output>(clientA, 'SyncAuthorizedEntries', {})
  t.same(
    res.entries.map((e) => e.id),
    [entryA.id],
    'only the entry parented by agent A',
  )
  const e = res.entries[0]!
  t.equal(e.spiffe_id, 'spiffe://example.org/web')
  t.same(e.dns_names, ['web.example.org', 'www.example.org'])
  t.equal(e.x509_svid_ttl, 600)
  t.same(e.federates_with, ['spiffe://other.org'], 'federates_with as trust-domain IDs')
  t.same(e.selectors, [{ type: 'unix', value: 'uid:1000' }])
  t.equal(res.bundle?.trust_domain, 'example.org')
  t.same(
    res.federated_bundles.map((b) => [b.trust_domain, b.sequence_number]),
    [['other.org', 7]],
  )

  const bundle = await unary<GetBundleResponse__Output>(clientA, 'GetBundle', {})
  t.equal(bundle.bundle?.sequence_number, kit.ca.currentBundle().sequenceNumber, 'GetBundle')

  // The digest: sent back while nothing changed, the server answers `unchanged` and only the bundle.
  t.match(res.entries_digest, /^[0-9a-f]{64}$/)
  t.equal(res.unchanged, false)
  const sync = (known: string) =>
    unary<SyncAuthorizedEntriesResponse__Output>(clientA, 'SyncAuthorizedEntries', {
      known_entries_digest: known,
    })
  const same = await sync(res.entries_digest)
  t.equal(same.unchanged, true, 'unchanged')
  t.same([same.entries.length, same.federated_bundles.length], [0, 0], 'nothing resent')
  t.equal(same.entries_digest, res.entries_digest)
  t.equal(same.bundle?.trust_domain, 'example.org', 'the bundle is always sent')
  const stale = await sync('0'.repeat(64))
  t.equal(stale.unchanged, false, 'another digest gets the full list')
  t.same(
    stale.entries.map((e) => e.id),
    [entryA.id],
  )
  await kit.ds.setBundle('other.org', {
    spiffeBundleJson: encodeSpiffeBundle(otherBundle),
    sequenceNumber: 8,
  })
  const afterBundle = await sync(res.entries_digest)
  t.equal(afterBundle.unchanged, false, 'a federated bundle changed: full answer')
  t.not(afterBundle.entries_digest, res.entries_digest)
  await kit.ds.setBundle('unrelated.org', {
    spiffeBundleJson: encodeSpiffeBundle(otherBundle),
    sequenceNumber: 9,
  })
  t.equal((await sync(afterBundle.entries_digest)).unchanged, true, 'a bundle no entry names changes nothing')
  await kit.ds.updateEntry(entryA.id, { hint: 'new hint' })
  const afterUpdate = await sync(afterBundle.entries_digest)
  t.equal(afterUpdate.unchanged, false, 'an entry update: full answer')
  t.equal(afterUpdate.entries[0]?.hint, 'new hint')
})

t.test('X509-SVIDs take SPIFFE ID, DNS names and TTL from the entry, never the CSR', async (t) => {
  const { kit, a, clientA, entryA } = await setup(t)
  const res = await unary<BatchNewX509SvidResponse__Output>(clientA, 'BatchNewX509Svid', {
    params: [{ entry_id: entryA.id, csr: greedyCsr(kit.dir) }],
  })
  t.equal(res.results.length, 1)
  const svid = res.results[0]!.svid!
  t.equal(res.results[0]!.entry_id, entryA.id)
  t.equal(svid.spiffe_id, 'spiffe://example.org/web')
  const cert = new X509Certificate(svid.cert_chain[0]!)
  t.equal(
    cert.subjectAltName,
    'URI:spiffe://example.org/web, DNS:web.example.org, DNS:www.example.org',
    "exactly the entry's names",
  )
  t.notMatch(cert.subject, /evil/, 'subject not from the CSR')
  const lifetime = (new Date(cert.validTo).getTime() - kit.clock.ms) / 1000
  t.ok(lifetime > 598 && lifetime <= 600, `TTL from the entry (600 s), got ${lifetime}`)
  t.equal(svid.expires_at, Math.floor(new Date(cert.validTo).getTime() / 1000))
  const ossl = opensslVerify({ leaf: svid.cert_chain[0]!, roots: roots(kit), at: kit.clock.now() })
  t.ok(ossl.ok, `openssl verify: ${ossl.output}`)

  const records = await kit.ds.listIssuedSvids({ spiffeId: 'spiffe://example.org/web' })
  t.equal(records.length, 1, 'recorded')
  t.equal(records[0]?.serialOrJti, svid.serial)
  t.equal(records[0]?.entryId, entryA.id)
  t.equal(records[0]?.agentId, a.svid.spiffe_id)
  t.equal(records[0]?.kind, 'x509')
})

t.test('a batch of many CSRs: one record per SVID, all verify with openssl', async (t) => {
  const { kit, a, clientA } = await setup(t)
  const entries = []
  for (let i = 0; i < 20; i++) {
    entries.push(
      await kit.ds.createEntry(
        entryInput({
          spiffeId: `spiffe://example.org/w/${i}`,
          parentId: a.svid.spiffe_id,
          x509SvidTtl: i % 2 ? 0 : 900,
        }),
      ),
    )
  }
  const csr = await createCsr(await generateKeyPair('ec-p256'))
  const res = await unary<BatchNewX509SvidResponse__Output>(clientA, 'BatchNewX509Svid', {
    params: entries.map((e) => ({ entry_id: e.id, csr })),
  })
  t.same(
    res.results.map((r) => r.entry_id),
    entries.map((e) => e.id),
    'results in request order',
  )
  const leaves = res.results.map((r) => r.svid!.cert_chain[0]!)
  const ossl = opensslVerify({ leaf: leaves, roots: roots(kit), at: kit.clock.now() })
  t.ok(ossl.ok, `every SVID passes openssl verify: ${ossl.output}`)
  const ttls = res.results.map((r) => r.svid!.expires_at - Math.floor(kit.clock.ms / 1000))
  t.same(
    ttls,
    entries.map((_, i) => (i % 2 ? 3600 : 900)),
    'entry TTL, or the server default when 0',
  )
  const records = await kit.ds.listIssuedSvids({ agentId: a.svid.spiffe_id })
  t.equal(records.filter((r) => r.entryId !== '').length, 20, 'twenty records')
})

t.test("an agent cannot get SVIDs or JWTs for another agent's entries", async (t) => {
  const { kit, a, clientA, entryA, entryB } = await setup(t)
  const csr = await createCsr(await generateKeyPair('ec-p256'))
  const before = await kit.ds.listIssuedSvids()
  for (const params of [
    [{ entry_id: entryB.id, csr }],
    [
      { entry_id: entryA.id, csr },
      { entry_id: entryB.id, csr },
    ],
  ]) {
    const err = await t.rejects(unary(clientA, 'BatchNewX509Svid', { params }))
    t.equal((err as { code?: number }).code, status.PERMISSION_DENIED, `batch of ${params.length}`)
    t.equal(sigilCode(err as never), 'ERR_NOT_AUTHORIZED')
  }
  const jwt = await t.rejects(unary(clientA, 'NewJwtSvid', { entry_id: entryB.id, audience: ['db'] }))
  t.equal((jwt as { code?: number }).code, status.PERMISSION_DENIED, "JWT for B's entry")
  const unknown = await t.rejects(
    unary(clientA, 'NewJwtSvid', { entry_id: 'no-such-entry', audience: ['db'] }),
  )
  t.equal((unknown as { code?: number }).code, status.PERMISSION_DENIED, 'unknown entry looks the same')
  t.same(await kit.ds.listIssuedSvids(), before, 'nothing signed or recorded')

  const refusals = kit.logger.entries.filter(
    (e) => e.level === 'warn' && e.obj.agent_id === a.svid.spiffe_id && e.obj.entry_id === entryB.id,
  )
  t.equal(refusals.length, 3, 'each refusal logged with agent_id and entry_id')
})

t.test(
  'entry changes reach authorization on the very next call (the per-agent cache follows them)',
  async (t) => {
    const { kit, clientA, entryA } = await setup(t)
    const csr = () => generateKeyPair('ec-p256').then(createCsr)
    const mint = async (entryId: string) =>
      unary<BatchNewX509SvidResponse__Output>(clientA, 'BatchNewX509Svid', {
        params: [{ entry_id: entryId, csr: await csr() }],
      })
    t.equal((await mint(entryA.id)).results.length, 1, 'served while the entry exists (and now cached)')
    t.equal((await mint(entryA.id)).results.length, 1, 'served again from the cache')
    const moved = await kit.ds.updateEntry(entryA.id, { parentId: 'spiffe://example.org/someone-else' })
    const err = await t.rejects(mint(moved.id))
    t.equal((err as { code?: number }).code, status.PERMISSION_DENIED, 'reparented away: refused at once')
    const back = await kit.ds.updateEntry(entryA.id, { parentId: entryA.parentId })
    t.equal((await mint(back.id)).results.length, 1, 'reparented back: served again')
    const added = await kit.ds.createEntry(
      entryInput({ spiffeId: 'spiffe://example.org/added-later', parentId: entryA.parentId }),
    )
    t.equal((await mint(added.id)).results.length, 1, 'a new entry is served at once')
    await kit.ds.deleteEntry(added.id)
    const gone = await t.rejects(mint(added.id))
    t.equal((gone as { code?: number }).code, status.PERMISSION_DENIED, 'deleted: refused at once')
    const synced = await unary<SyncAuthorizedEntriesResponse__Output>(clientA, 'SyncAuthorizedEntries', {})
    t.same(
      synced.entries.map((e) => e.id),
      [entryA.id],
      'sync lists what authorization allows',
    )
  },
)

t.test('JWT-SVIDs: entry TTL, audience, recorded with jti', async (t) => {
  const { kit, a, clientA, entryA } = await setup(t)
  const res = await unary<NewJwtSvidResponse__Output>(clientA, 'NewJwtSvid', {
    entry_id: entryA.id,
    audience: ['spiffe://example.org/db', 'extra'],
  })
  t.equal(res.spiffe_id, 'spiffe://example.org/web')
  t.equal(res.expires_at - res.issued_at, 120, 'TTL from the entry')
  const bundle = kit.ca.currentBundle()
  const v = await validateJwtSvid(res.token, {
    audience: 'spiffe://example.org/db',
    bundleFor: (td) => (td.equals(bundle.trustDomain) ? bundle : undefined),
    now: kit.clock.now(),
  })
  t.equal(v.spiffeId.toString(), 'spiffe://example.org/web')
  const [rec] = await kit.ds.listIssuedSvids({ spiffeId: 'spiffe://example.org/web' })
  t.equal(rec?.kind, 'jwt')
  t.equal(rec?.serialOrJti, v.claims.jti)
  t.same(rec?.audience, ['spiffe://example.org/db', 'extra'])
  t.equal(rec?.agentId, a.svid.spiffe_id)

  const empty = await t.rejects(unary(clientA, 'NewJwtSvid', { entry_id: entryA.id, audience: [] }))
  t.equal((empty as { code?: number }).code, status.INVALID_ARGUMENT, 'empty audience')
  const blank = await t.rejects(unary(clientA, 'NewJwtSvid', { entry_id: entryA.id, audience: [''] }))
  t.equal((blank as { code?: number }).code, status.INVALID_ARGUMENT, 'empty audience value')
  const noEntry = await t.rejects(unary(clientA, 'NewJwtSvid', { audience: ['x'] }))
  t.equal((noEntry as { code?: number }).code, status.INVALID_ARGUMENT, 'empty entry ID')
})

t.test('bad batches get INVALID_ARGUMENT and the server keeps serving', async (t) => {
  const { kit, clientA, entryA } = await setup(t)
  const csr = await createCsr(await generateKeyPair('ec-p256'))
  const cases: [string, object, string?][] = [
    ['garbage CSR', { params: [{ entry_id: entryA.id, csr: Buffer.from('garbage') }] }, 'ERR_CSR_INVALID'],
    ['empty CSR', { params: [{ entry_id: entryA.id }] }, 'ERR_CSR_INVALID'],
    [
      'truncated CSR',
      { params: [{ entry_id: entryA.id, csr: csr.subarray(0, csr.length - 5) }] },
      'ERR_CSR_INVALID',
    ],
    [
      'duplicate entry',
      {
        params: [
          { entry_id: entryA.id, csr },
          { entry_id: entryA.id, csr },
        ],
      },
    ],
    ['empty entry ID', { params: [{ entry_id: '', csr }] }],
    ['501 CSRs', { params: Array.from({ length: 501 }, (_, i) => ({ entry_id: `e${i}`, csr })) }],
  ]
  const before = await kit.ds.listIssuedSvids()
  for (const [name, req, code] of cases) {
    const err = await t.rejects(unary(clientA, 'BatchNewX509Svid', req), name)
    t.equal((err as { code?: number }).code, status.INVALID_ARGUMENT, `${name}: INVALID_ARGUMENT`)
    if (code) t.equal(sigilCode(err as never), code)
  }
  t.same(await kit.ds.listIssuedSvids(), before, 'nothing recorded')
  const ok = await unary<BatchNewX509SvidResponse__Output>(clientA, 'BatchNewX509Svid', {
    params: [{ entry_id: entryA.id, csr }],
  })
  t.equal(ok.results.length, 1, 'a good batch still works')
  const none = await unary<BatchNewX509SvidResponse__Output>(clientA, 'BatchNewX509Svid', { params: [] })
  t.same(none.results, [], 'an empty batch is an empty answer')
  await kit.ds.integrityCheck()
})

t.test('node aliases: an x509pop agent gets the entries under an alias its selectors match', async (t) => {
  const kit = await startKit(t)
  const { svid } = await attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey)
  const alias = await kit.ds.createEntry(
    entryInput({
      spiffeId: 'spiffe://example.org/nodes/cn-node-1',
      parentId: 'spiffe://example.org/sigil/server',
      selectors: [{ type: 'x509pop', value: 'subject:cn:node-1' }],
      node: true,
    }),
  )
  const child = await kit.ds.createEntry(
    entryInput({ spiffeId: 'spiffe://example.org/app', parentId: alias.spiffeId }),
  )
  await kit.ds.createEntry(
    entryInput({ spiffeId: 'spiffe://example.org/elsewhere', parentId: 'spiffe://example.org/nodes/other' }),
  )
  const client = kit.agentClient(svid)
  const res = await unary<SyncAuthorizedEntriesResponse__Output>(client, 'SyncAuthorizedEntries', {})
  t.same(
    res.entries.map((e) => e.id),
    [child.id],
    'the child of the matching alias only',
  )
  const pem = pemToCertificates(kit.rootPem())
  t.same(pem, roots(kit))
})
