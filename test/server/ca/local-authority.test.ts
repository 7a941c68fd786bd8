// Forced rotation on a real CaManager (temp data dir, fake clock): SPIRE's rules (activate only
// the prepared authority, taint only an old one, revoke only a tainted one), the bundle after
// each step, SVIDs signed by the right authority, taint listeners, and that a taint and a revoke
// survive a restart (key store).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../../certs/x509svid/ca-certificate.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { CaManager, type CaManagerConfig } from '../../../server/ca/ca-manager.js'
import { x509AuthorityId } from '../../../server/ca/local-authority.js'
import { FakeClock, MemoryBundleStore, RecordingLogger } from './ca-test-kit.js'

const td = TrustDomain.parse('example.org')
const workload = SpiffeId.parse('spiffe://example.org/web')

function config(dataDir: string, clock: FakeClock, over: Partial<CaManagerConfig> = {}): CaManagerConfig {
  return {
    trustDomain: td,
    dataDir,
    caTtlSeconds: 86_400,
    caKeyType: 'ec-p256',
    jwtKeyType: 'ec-p256',
    bundleStore: new MemoryBundleStore(clock.now),
    refreshHintSeconds: 60,
    clock: clock.now,
    logger: new RecordingLogger(),
    ...over,
  }
}

async function mintSigner(ca: CaManager): Promise<string> {
  const { publicKey } = await generateKeyPair('ec-p256')
  const svid = ca.signX509Svid({ spiffeId: workload, publicKey, ttlSeconds: 60 })
  return readCertificateFacts(svid.chainDer[0]!).authorityKeyId?.toString('hex') ?? ''
}

t.test('x509: prepare, activate, taint, revoke follow SPIRE’s rules', async (t) => {
  const dataDir = t.testdir()
  const clock = new FakeClock()
  const ca = new CaManager(config(dataDir, clock))
  await ca.init()
  const tainted: { x509: string[]; jwt: string[] }[] = []
  ca.onTaintChange((s) => tainted.push(s))

  const first = ca.localAuthorities('x509')
  const oldId = first.active?.authorityId ?? ''
  t.equal(oldId, x509AuthorityId(ca.x509Authorities()[0]!), 'the ID is the CA’s subject key ID')
  t.equal(await mintSigner(ca), oldId, 'SVIDs carry it as their authority key ID')
  t.same(first.old, [])
  t.equal(first.prepared, undefined)

  await t.rejects(ca.changeLocalAuthority('x509', 'taint', oldId), {
    code: 'ERR_FAILED_PRECONDITION',
    message: /only an old authority can be tainted/,
  })
  await t.rejects(ca.changeLocalAuthority('x509', 'revoke', oldId), { code: 'ERR_FAILED_PRECONDITION' })
  await t.rejects(ca.changeLocalAuthority('x509', 'activate', oldId), { code: 'ERR_FAILED_PRECONDITION' })
  await t.rejects(ca.changeLocalAuthority('x509', 'activate', 'ff'.repeat(20)), { code: 'ERR_NOT_FOUND' })
  await t.rejects(ca.changeLocalAuthority('x509', 'taint', ''), { code: 'ERR_INVALID_ARGUMENT' })

  clock.advance(1000)
  const p1 = await ca.changeLocalAuthority('x509', 'prepare')
  const p2 = await ca.changeLocalAuthority('x509', 'prepare')
  t.not(p1.authorityId, p2.authorityId)
  t.equal(ca.x509Authorities().length, 2, 'a second prepare replaces the first prepared one in the bundle')
  t.equal(ca.localAuthorities('x509').prepared?.authorityId, p2.authorityId)
  t.equal(await mintSigner(ca), oldId, 'a prepared CA does not sign')
  await t.rejects(ca.changeLocalAuthority('x509', 'activate', p1.authorityId), { code: 'ERR_NOT_FOUND' })

  const act = await ca.changeLocalAuthority('x509', 'activate', p2.authorityId)
  t.equal(act.status, 'active')
  t.equal(await mintSigner(ca), p2.authorityId, 'the activated CA signs at once')
  t.match(ca.localAuthorities('x509'), {
    active: { authorityId: p2.authorityId },
    old: [{ authorityId: oldId, tainted: false }],
  })
  t.equal(
    ca.caCertificateChain()[0]?.equals(ca.x509Authorities()[1]!),
    true,
    'the chain starts with the new CA',
  )
  await t.rejects(ca.changeLocalAuthority('x509', 'revoke', oldId), {
    code: 'ERR_FAILED_PRECONDITION',
    message: /taint it first/,
  })
  t.same(tainted, [], 'no taint yet')

  const tnt = await ca.changeLocalAuthority('x509', 'taint', oldId)
  t.equal(tnt.tainted, true)
  t.same(tainted, [{ x509: [oldId], jwt: [] }], 'listeners hear the tainted set')
  t.same(ca.taintedAuthorities(), { x509: [oldId], jwt: [] })
  await t.rejects(ca.changeLocalAuthority('x509', 'taint', oldId), { message: /already tainted/ })
  t.equal(ca.x509Authorities().length, 2, 'a tainted CA stays in the bundle')
  const journal = JSON.parse(await readFile(join(dataDir, 'keys', 'authorities.json'), 'utf8'))
  t.equal(journal.x509.filter((a: { tainted?: boolean }) => a.tainted).length, 1, 'the taint is saved')

  // a restart keeps the taint
  const again = new CaManager(config(dataDir, clock, { bundleStore: new MemoryBundleStore(clock.now) }))
  await again.init()
  t.same(again.taintedAuthorities(), { x509: [oldId], jwt: [] }, 'tainted after a restart')

  const seqBefore = ca.currentBundle().sequenceNumber
  await ca.changeLocalAuthority('x509', 'revoke', oldId)
  t.equal(ca.x509Authorities().length, 1, 'the revoked CA left the bundle')
  t.equal(x509AuthorityId(ca.x509Authorities()[0]!), p2.authorityId)
  t.ok(ca.currentBundle().sequenceNumber > seqBefore, 'a new bundle was published')
  t.same(tainted.at(-1), { x509: [], jwt: [] }, 'listeners hear it is gone')
  await t.rejects(ca.changeLocalAuthority('x509', 'revoke', p2.authorityId), {
    code: 'ERR_FAILED_PRECONDITION',
    message: /the active authority cannot be revoked/,
  })
  const third = new CaManager(config(dataDir, clock, { bundleStore: new MemoryBundleStore(clock.now) }))
  await third.init()
  t.equal(third.x509Authorities().length, 1, 'the revoke survives a restart')
})

t.test('jwt: the same rules by kid; revoke removes the key from the JWKS', async (t) => {
  const clock = new FakeClock()
  const ca = new CaManager(config(t.testdir(), clock))
  await ca.init()
  const oldKid = ca.localAuthorities('jwt').active?.authorityId ?? ''
  t.equal(oldKid, ca.currentBundle().jwtAuthorities[0]?.kid)
  const p = await ca.changeLocalAuthority('jwt', 'prepare')
  t.equal(p.certDer, undefined, 'no certificate for a JWT key')
  await ca.changeLocalAuthority('jwt', 'activate', p.authorityId)
  const token = await ca.signJwtSvid({ spiffeId: workload, audience: ['db'], ttlSeconds: 60 })
  t.equal(JSON.parse(Buffer.from(token.token.split('.')[0]!, 'base64url').toString()).kid, p.authorityId)
  await ca.changeLocalAuthority('jwt', 'taint', oldKid)
  t.same(ca.taintedAuthorities(), { x509: [], jwt: [oldKid] })
  await ca.changeLocalAuthority('jwt', 'revoke', oldKid)
  t.same(
    ca.currentBundle().jwtAuthorities.map((k) => k.kid),
    [p.authorityId],
  )
})

t.test('with an upstream CA an X.509 authority can be tainted but not revoked', async (t) => {
  const clock = new FakeClock()
  const kp = await generateKeyPair('ec-p256')
  const root = await buildCaCertificate({
    trustDomain: td,
    publicKey: kp.publicKey,
    signerKey: kp.privateKey,
    notBefore: new Date(clock.ms - 60_000),
    notAfter: new Date(clock.ms + 10 * 86_400_000),
    subject: 'CN=Upstream Root',
  })
  const ca = new CaManager(config(t.testdir(), clock, { upstream: { certDer: [root], key: kp.privateKey } }))
  await ca.init()
  const oldId = ca.localAuthorities('x509').active?.authorityId ?? ''
  const p = await ca.changeLocalAuthority('x509', 'prepare')
  await ca.changeLocalAuthority('x509', 'activate', p.authorityId)
  await ca.changeLocalAuthority('x509', 'taint', oldId)
  await t.rejects(ca.changeLocalAuthority('x509', 'revoke', oldId), {
    code: 'ERR_FAILED_PRECONDITION',
    message: /upstream/,
  })
  t.same(ca.x509Authorities(), [root], 'the bundle holds the upstream root throughout')
})
