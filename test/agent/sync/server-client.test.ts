import { X509Certificate } from 'node:crypto'
// The agent's server client against a real in-process agent API (real SQLite, real CA, real TLS).
import { createServer } from 'node:tls'
import t from 'tap'
import { probeServerChain } from '../../../agent/sync/insecure-bootstrap-probe.js'
import { ServerClient } from '../../../agent/sync/server-client.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { isSigilError } from '../../../certs/errors.js'
import { validateJwtSvid } from '../../../certs/jwtsvid/validate-jwt-svid.js'
import { generateKeyPair, privateKeyToPkcs8Pem } from '../../../certs/keys/keys.js'
import { createCsr } from '../../../certs/x509svid/csr.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { createTestCa } from '../../helpers/testca.js'
import { startServerKit } from './server-kit.js'

const roots = (b: TrustBundle) => (td: { name: string }) =>
  td.name === b.trustDomain.name ? b.x509Authorities : undefined

t.test('join_token attestation, sync, renewal and SVID issuing', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  await kit.createJoinToken('token-one')
  const client = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
  })
  t.teardown(() => client.close())

  const { identity, bundle } = await client.attest({ type: 'join_token', token: 'token-one' })
  const agentId = 'spiffe://example.org/sigil/agent/join_token/token-one'
  t.equal(identity.spiffeId.toString(), agentId)
  t.ok(verifyX509Svid(identity.chainDer, roots(bundle)), 'agent SVID verifies against the bundle received')
  t.equal(
    (await kit.datastore.getAttestedAgent(agentId))?.serialNumber,
    identity.serial,
    'server recorded it',
  )
  t.equal(client.identity, identity)

  const web = await kit.createEntry('spiffe://example.org/web', agentId, ['unix:uid:1000'])
  const db = await kit.createEntry('spiffe://example.org/db', 'spiffe://example.org/web', ['unix:uid:2000'])
  const foreign = await kit.createEntry('spiffe://example.org/other', 'spiffe://example.org/sigil/agent/x', [
    'unix:uid:3000',
  ])
  const state = await client.syncAuthorizedEntries()
  t.same(
    state.entries.map((e) => e.id).sort(),
    [web.id, db.id].sort(),
    'only the entries authorized for this agent',
  )
  const w = state.entries.find((e) => e.id === web.id)!
  t.equal(w.spiffeId, 'spiffe://example.org/web')
  t.same(w.selectors, [{ type: 'unix', value: 'uid:1000' }])
  t.ok(w.createdAt instanceof Date && !Number.isNaN(w.createdAt.getTime()))
  t.same(state.bundle.x509Authorities, kit.bundle().x509Authorities, 'our bundle')
  t.equal(state.federatedBundles.size, 0)
  const resynced = await client.syncAuthorizedEntries()
  t.equal(resynced.bundle, state.bundle, 'an unchanged bundle is not decoded again')
  t.equal(resynced, state, 'nothing changed: the server said so and the same state comes back')
  const renamed = await kit.datastore.updateEntry(web.id, { hint: 'renamed' })
  const changed = await client.syncAuthorizedEntries()
  t.not(changed.entries, state.entries, 'an entry changed: a new list')
  t.equal(changed.entries.find((e) => e.id === web.id)?.hint, 'renamed')
  t.equal(changed.entries.find((e) => e.id === web.id)?.revisionNumber, renamed.revisionNumber)
  t.equal(
    changed.entries.find((e) => e.id === db.id),
    state.entries.find((e) => e.id === db.id),
    'the entry that did not change is reused',
  )
  t.equal(await client.syncAuthorizedEntries(), changed, 'and unchanged again')

  // SvidIssuer: X509-SVIDs from CSRs, JWT-SVIDs, and refusal for an entry of another agent.
  const keys = await generateKeyPair('ec-p256')
  const [svid] = await client.newX509Svids([{ entryId: web.id, csrDer: await createCsr(keys) }])
  t.equal(svid?.spiffeId, 'spiffe://example.org/web')
  t.equal(verifyX509Svid(svid!.chainDer, roots(state.bundle)).spiffeId.toString(), 'spiffe://example.org/web')
  t.ok(new Date(new X509Certificate(svid!.chainDer[0]!).validTo) > new Date())
  const jwt = await client.newJwtSvid(web.id, ['aud-1', 'aud-2'])
  t.equal(jwt.spiffeId, 'spiffe://example.org/web')
  const validated = await validateJwtSvid(jwt.token, { audience: 'aud-2', bundleFor: () => state.bundle })
  t.equal(
    validated.spiffeId.toString(),
    'spiffe://example.org/web',
    'the JWT-SVID verifies against the bundle',
  )
  t.equal(validated.expiresAt.getTime(), jwt.expiresAt.getTime())
  await t.rejects(validateJwtSvid(jwt.token, { audience: 'other', bundleFor: () => state.bundle }), {
    code: 'ERR_JWT_AUDIENCE_MISMATCH',
  })
  await t.rejects(
    client.newX509Svids([{ entryId: foreign.id, csrDer: await createCsr(keys) }]),
    { code: 'ERR_NOT_AUTHORIZED' },
    'an entry of another agent is refused',
  )
  await t.rejects(client.newJwtSvid(foreign.id, ['a']), { code: 'ERR_NOT_AUTHORIZED' })

  // Renewal: a new key and serial; the server now expects the new SVID and sync still works.
  const renewed = await client.renew()
  t.not(renewed.serial, identity.serial)
  t.equal(renewed.spiffeId.toString(), agentId)
  t.notOk(renewed.privateKey.equals(identity.privateKey), 'a fresh key pair')
  t.equal((await kit.datastore.getAttestedAgent(agentId))?.serialNumber, renewed.serial)
  t.equal((await client.syncAuthorizedEntries()).entries.length, 2, 'sync over the renewed SVID')
  t.same((await client.getBundle()).x509Authorities, kit.bundle().x509Authorities)

  // The token worked once.
  const again = new ServerClient({ address: kit.address, trustDomain: kit.trustDomain, bundle: kit.bundle() })
  t.teardown(() => again.close())
  await t.rejects(again.attest({ type: 'join_token', token: 'token-one' }), {
    code: 'ERR_ATTESTATION_FAILED',
  })
})

t.test('x509pop attestation answers the challenge with the certificate key', async (t) => {
  const popCa = await createTestCa({ trustDomain: 'nodes.example' })
  const kit = await startServerKit({ x509popCaCerts: [popCa.rootDer] })
  t.teardown(() => kit.close())
  const leaf = await popCa.mintSvid('/node-1')
  const client = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
  })
  t.teardown(() => client.close())
  const { identity } = await client.attest({
    type: 'x509pop',
    chainDer: [leaf.certDer],
    privateKey: leaf.privateKey,
  })
  t.match(identity.spiffeId.toString(), /^spiffe:\/\/example\.org\/sigil\/agent\/x509pop\/[0-9a-f]{64}$/)
  t.equal((await client.syncAuthorizedEntries()).entries.length, 0)

  const stranger = await generateKeyPair('ec-p256')
  await t.rejects(
    client.attest({ type: 'x509pop', chainDer: [leaf.certDer], privateKey: stranger.privateKey }),
    { code: 'ERR_ATTESTATION_FAILED' },
    'a key that does not match the certificate fails the challenge',
  )
})

t.test('the server must present its SVID under the bundle the agent trusts', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  await kit.createJoinToken('token-two')
  const other = await createTestCa({ trustDomain: 'example.org' })
  const wrongBundle = TrustBundle.create({ trustDomain: kit.trustDomain, x509Authorities: [other.rootDer] })
  const client = new ServerClient({ address: kit.address, trustDomain: kit.trustDomain, bundle: wrongBundle })
  t.teardown(() => client.close())
  await t.rejects(client.attest({ type: 'join_token', token: 'token-two' }), { code: 'ERR_UNAVAILABLE' })
  t.equal(client.identity, undefined)

  // Right roots, wrong trust domain: the SPIFFE ID check refuses the server.
  const otherTd = startServerKit({ trustDomain: 'other.org' })
  const kit2 = await otherTd
  t.teardown(() => kit2.close())
  const mixed = TrustBundle.create({
    trustDomain: kit.trustDomain,
    x509Authorities: kit2.bundle().x509Authorities,
  })
  const c2 = new ServerClient({ address: kit2.address, trustDomain: kit.trustDomain, bundle: mixed })
  t.teardown(() => c2.close())
  await t.rejects(c2.attest({ type: 'join_token', token: 'x' }), { code: 'ERR_UNAVAILABLE' })

  // The token was never consumed by the refused attempts.
  await client.close()
  const good = new ServerClient({ address: kit.address, trustDomain: kit.trustDomain, bundle: kit.bundle() })
  t.teardown(() => good.close())
  t.ok((await good.attest({ type: 'join_token', token: 'token-two' })).identity)
})

t.test(
  'insecure bootstrap pins the bundle the server returns and still requires its SPIFFE ID',
  async (t) => {
    const kit = await startServerKit()
    t.teardown(() => kit.close())
    await kit.createJoinToken('token-three')
    const client = new ServerClient({
      address: kit.address,
      trustDomain: kit.trustDomain,
      insecureBootstrap: true,
    })
    t.teardown(() => client.close())
    t.equal(client.bundle, undefined)
    const { bundle } = await client.attest({ type: 'join_token', token: 'token-three' })
    t.same(bundle.x509Authorities, kit.bundle().x509Authorities)
    t.equal(client.bundle, bundle, 'pinned')
    t.equal((await client.syncAuthorizedEntries()).entries.length, 0, 'mutual TLS under the pinned bundle')

    // An impostor presenting another SPIFFE ID is refused before any credential is sent.
    const impostorCa = await createTestCa({ trustDomain: 'example.org' })
    const impostor = await impostorCa.mintSvid('/not-the-server')
    const server = createServer({
      cert: certificatesToPem([impostor.certDer]),
      key: privateKeyToPkcs8Pem(impostor.privateKey),
      ALPNProtocols: ['h2'],
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.teardown(() => server.close())
    const port = (server.address() as { port: number }).port
    await t.rejects(probeServerChain(`127.0.0.1:${port}`, kit.trustDomain, { timeoutMs: 2000 }), {
      code: 'ERR_SVID_UNTRUSTED',
    })
    const fooled = new ServerClient({
      address: `127.0.0.1:${port}`,
      trustDomain: kit.trustDomain,
      insecureBootstrap: true,
    })
    t.teardown(() => fooled.close())
    await t.rejects(fooled.attest({ type: 'join_token', token: 'secret' }), { code: 'ERR_SVID_UNTRUSTED' })
  },
)

t.test('an evicted agent is refused with ERR_NOT_AUTHORIZED', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  await kit.createJoinToken('token-four')
  const client = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
  })
  t.teardown(() => client.close())
  const { identity } = await client.attest({ type: 'join_token', token: 'token-four' })
  await kit.datastore.deleteAttestedAgent(identity.spiffeId.toString())
  const err = await client.syncAuthorizedEntries().catch((e: unknown) => e)
  t.ok(isSigilError(err, 'ERR_NOT_AUTHORIZED'), 'sync refused')
  await t.rejects(client.renew(), { code: 'ERR_NOT_AUTHORIZED' })
})
