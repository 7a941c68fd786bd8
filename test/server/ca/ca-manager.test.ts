import { chmod, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { validateJwtSvid } from '../../../certs/jwtsvid/validate-jwt-svid.js'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../../certs/x509svid/ca-certificate.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { CaManager, type CaManagerConfig } from '../../../server/ca/ca-manager.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { FakeClock, MemoryBundleStore, opensslVerify, RecordingLogger } from './ca-test-kit.js'

const td = TrustDomain.parse('example.org')
const workload = SpiffeId.parse('spiffe://example.org/ns/prod/sa/web')

function setup(dataDir: string, overrides: Partial<CaManagerConfig> = {}) {
  const clock = new FakeClock()
  const store = new MemoryBundleStore(clock.now)
  const logger = new RecordingLogger()
  const config: CaManagerConfig = {
    trustDomain: td,
    dataDir,
    caTtlSeconds: 3600,
    caKeyType: 'ec-p256',
    jwtKeyType: 'ec-p256',
    bundleStore: store,
    refreshHintSeconds: 60,
    clock: clock.now,
    logger,
    ...overrides,
  }
  return { clock, store, logger, config }
}

t.test('init creates a self-signed CA and a JWT key and publishes bundle #1', async (t) => {
  const dataDir = t.testdir()
  const { clock, store, logger, config } = setup(dataDir)
  const ca = new CaManager(config)
  await ca.init()

  const bundle = ca.currentBundle()
  t.equal(bundle.x509Authorities.length, 1, 'one X.509 root')
  t.equal(bundle.jwtAuthorities.length, 1, 'one JWT key')
  t.equal(bundle.sequenceNumber, 1, 'sequence 1')
  t.equal(bundle.refreshHintSeconds, 60)
  t.equal(store.writes.length, 1, 'one bundle write')
  t.equal(store.writes[0]?.trustDomain, 'example.org', 'stored under the trust domain name')
  t.ok(store.decoded(td).withSequence(1).equals(bundle.withSequence(1)), 'store holds the same bundle')
  t.match(bundle.jwtAuthorities[0]?.kid, /^[A-Za-z0-9]{32}$/, 'kid is 32 random alphanumerics')
  t.same(ca.x509Authorities(), bundle.x509Authorities)
  t.same(ca.caCertificateChain(), bundle.x509Authorities, 'self-signed: the chain is the root itself')
  t.same(ca.health(), { ok: true, consecutiveFailures: 0 })

  const root = bundle.x509Authorities[0]!
  const facts = readCertificateFacts(root)
  t.ok(facts.isCa && facts.issuerRaw.equals(facts.subjectRaw), 'a self-signed CA')
  t.same(facts.uriSans, ['spiffe://example.org'])
  t.equal(facts.notAfter.getTime() - clock.ms, 3600_000, 'valid for caTtl')

  const { publicKey } = await generateKeyPair('ec-p256')
  const svid = ca.signX509Svid({
    spiffeId: workload,
    publicKey,
    ttlSeconds: 600,
    dnsNames: ['web.example.org'],
  })
  t.equal(svid.chainDer.length, 1, 'chain excludes the root')
  t.equal(svid.notAfter.getTime() - Math.floor(clock.ms / 1000) * 1000, 600_000, 'TTL as asked')
  const v = verifyX509Svid(svid.chainDer, (d) => (d.equals(td) ? bundle.x509Authorities : undefined), {
    now: clock.now(),
  })
  t.equal(v.spiffeId.toString(), workload.toString())
  const ossl = opensslVerify({ leaf: svid.certDer, roots: bundle.x509Authorities, at: clock.now() })
  t.ok(ossl.ok, `openssl verify: ${ossl.output}`)

  const jwt = await ca.signJwtSvid({ spiffeId: workload, audience: ['db'], ttlSeconds: 300 })
  const claims = await validateJwtSvid(jwt.token, {
    audience: 'db',
    bundleFor: (d) => (d.equals(td) ? bundle : undefined),
    now: clock.now(),
  })
  t.equal(claims.spiffeId.toString(), workload.toString())

  const keysDir = join(dataDir, 'keys')
  t.equal((await stat(keysDir)).mode & 0o777, 0o700, 'keys dir 0700')
  t.equal((await stat(join(keysDir, 'authorities.json'))).mode & 0o777, 0o600, 'key file 0600')
  t.notMatch(logger.text(), /PRIVATE KEY|privateKey/, 'no key material in the logs')
})

t.test('restart on the same data dir: same CA, same kid, no bundle bump', async (t) => {
  const dataDir = t.testdir()
  const first = setup(dataDir)
  const ca1 = new CaManager(first.config)
  await ca1.init()
  const jwt = await ca1.signJwtSvid({ spiffeId: workload, audience: ['db'], ttlSeconds: 300 })
  const before = ca1.currentBundle()
  const journal = await readFile(join(dataDir, 'keys', 'authorities.json'), 'utf8')

  // Same store (the datastore survives too), new manager, a little later.
  first.clock.advance(5_000)
  const ca2 = new CaManager({ ...first.config })
  await ca2.init()
  t.equal(first.store.writes.length, 1, 'no new bundle write')
  t.equal(ca2.currentBundle().sequenceNumber, 1, 'sequence unchanged')
  t.same(ca2.caCertificateChain(), ca1.caCertificateChain(), 'same CA certificate')
  t.equal(ca2.currentBundle().jwtAuthorities[0]?.kid, before.jwtAuthorities[0]?.kid, 'same kid')
  t.equal(await readFile(join(dataDir, 'keys', 'authorities.json'), 'utf8'), journal, 'key store untouched')

  // The restarted server signs with the same CA: old and new SVIDs verify against one bundle.
  const { publicKey } = await generateKeyPair('ec-p256')
  const svid = ca2.signX509Svid({ spiffeId: workload, publicKey, ttlSeconds: 60 })
  t.ok(opensslVerify({ leaf: svid.certDer, roots: before.x509Authorities, at: first.clock.now() }).ok)
  const claims = await validateJwtSvid(jwt.token, {
    audience: 'db',
    bundleFor: () => ca2.currentBundle(),
    now: first.clock.now(),
  })
  t.equal(claims.spiffeId.toString(), workload.toString(), 'a JWT from before the restart still validates')

  // Calling rotate again and again changes nothing.
  for (let i = 0; i < 5; i++) await ca2.rotate()
  t.equal(first.store.writes.length, 1, 'rotate is idempotent')
})

t.test('with the real SQLite datastore: a full restart keeps the CA and the bundle', async (t) => {
  const dataDir = t.testdir()
  const { config } = setup(dataDir)
  const path = join(dataDir, 'datastore.sqlite3')
  const ds1 = await openDataStore({ kind: 'sqlite', path })
  const ca1 = new CaManager({ ...config, bundleStore: ds1 })
  await ca1.init()
  const stored1 = await ds1.getBundle('example.org')
  await ds1.close()
  t.equal(stored1?.sequenceNumber, 1)

  const ds2 = await openDataStore({ kind: 'sqlite', path })
  t.teardown(() => ds2.close())
  const ca2 = new CaManager({ ...config, bundleStore: ds2 })
  await ca2.init()
  const stored2 = await ds2.getBundle('example.org')
  t.equal(stored2?.sequenceNumber, 1, 'no bump')
  t.equal(stored2?.spiffeBundleJson, stored1?.spiffeBundleJson, 'same bundle document')
  t.same(ca2.caCertificateChain(), ca1.caCertificateChain(), 'same CA')
})

t.test('a bundle lost from the store is re-published with the next sequence number', async (t) => {
  const dataDir = t.testdir()
  const { store, config } = setup(dataDir)
  const ca = new CaManager(config)
  await ca.init()
  store.bundles.set('example.org', { spiffeBundleJson: '{"keys":[],"spiffe_sequence":1}', sequenceNumber: 1 })
  await ca.rotate()
  t.equal(store.writes.length, 2)
  t.equal(store.bundles.get('example.org')?.sequenceNumber, 2)
  t.equal(store.decoded(td).x509Authorities.length, 1)
})

async function upstreamRoot(notAfterMs: number, now: Date) {
  const kp = await generateKeyPair('ec-p384')
  const der = await buildCaCertificate({
    trustDomain: td,
    publicKey: kp.publicKey,
    signerKey: kp.privateKey,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + notAfterMs),
    subject: 'C=US, O=Upstream, CN=Upstream Root',
  })
  return { der, key: kp.privateKey }
}

t.test('upstream: the CA is an intermediate; the bundle holds the upstream root', async (t) => {
  const dataDir = t.testdir()
  const clock = new FakeClock()
  const root = await upstreamRoot(10 * 86400_000, clock.now())
  const { store, config } = setup(dataDir, {
    clock: clock.now,
    upstream: { certDer: [root.der], key: root.key },
  })
  const ca = new CaManager({ ...config, bundleStore: store })
  await ca.init()
  t.same(ca.x509Authorities(), [root.der], 'bundle = upstream root only')
  const [intermediate, ...rest] = ca.caCertificateChain()
  t.same(rest, [root.der], 'caCertificateChain ends at the upstream root')
  const f = readCertificateFacts(intermediate!)
  t.ok(f.isCa, 'server CA is a CA')
  t.ok(f.issuerRaw.equals(readCertificateFacts(root.der).subjectRaw), 'issued by the upstream')

  const { publicKey } = await generateKeyPair('ec-p256')
  const svid = ca.signX509Svid({ spiffeId: workload, publicKey, ttlSeconds: 600 })
  t.equal(svid.chainDer.length, 2, '[leaf, intermediate]')
  t.ok(svid.chainDer[1]?.equals(intermediate!), 'the chain carries the intermediate')
  const ossl = opensslVerify({
    leaf: svid.certDer,
    roots: [root.der],
    intermediates: [intermediate!],
    at: clock.now(),
  })
  t.ok(ossl.ok, `openssl verify -x509_strict -CAfile root -untrusted intermediate leaf: ${ossl.output}`)
  const withoutIntermediate = opensslVerify({ leaf: svid.certDer, roots: [root.der], at: clock.now() })
  t.notOk(withoutIntermediate.ok, 'and fails without the intermediate (so the check means something)')
  verifyX509Svid(svid.chainDer, () => ca.x509Authorities(), { now: clock.now() })

  // Restart keeps the intermediate.
  const ca2 = new CaManager({ ...config, bundleStore: store })
  await ca2.init()
  t.same(ca2.caCertificateChain(), ca.caCertificateChain(), 'same intermediate after restart')
  t.equal(store.writes.length, 1, 'no bundle bump')
})

t.test('upstream with its own intermediate: chain is [leaf, ours, upstream intermediate]', async (t) => {
  const dataDir = t.testdir()
  const clock = new FakeClock()
  const root = await upstreamRoot(10 * 86400_000, clock.now())
  const mid = await generateKeyPair('ec-p256')
  const midDer = await buildCaCertificate({
    trustDomain: td,
    publicKey: mid.publicKey,
    signerKey: root.key,
    issuerCertDer: root.der,
    notBefore: new Date(clock.ms - 60_000),
    notAfter: new Date(clock.ms + 5 * 86400_000),
    subject: 'C=US, O=Upstream, CN=Upstream Intermediate',
  })
  const { config } = setup(dataDir, {
    clock: clock.now,
    upstream: { certDer: [midDer, root.der], key: mid.privateKey },
  })
  const ca = new CaManager(config)
  await ca.init()
  t.same(ca.x509Authorities(), [root.der])
  const { publicKey } = await generateKeyPair('ec-p256')
  const svid = ca.signX509Svid({ spiffeId: workload, publicKey, ttlSeconds: 600 })
  t.equal(svid.chainDer.length, 3)
  t.ok(svid.chainDer[2]?.equals(midDer), 'upstream intermediate last, root excluded')
  const ossl = opensslVerify({
    leaf: svid.certDer,
    roots: [root.der],
    intermediates: svid.chainDer.slice(1),
    at: clock.now(),
  })
  t.ok(ossl.ok, ossl.output)
})

t.test('an upstream key that does not match its certificate is a config error', async (t) => {
  const clock = new FakeClock()
  const root = await upstreamRoot(86400_000, clock.now())
  const other = await generateKeyPair('ec-p384')
  const { config } = setup(t.testdir(), { upstream: { certDer: [root.der], key: other.privateKey } })
  t.throws(() => new CaManager(config), { code: 'ERR_CONFIG_INVALID' })
})

t.test('the intermediate never outlives the upstream root', async (t) => {
  const dataDir = t.testdir()
  const clock = new FakeClock()
  const root = await upstreamRoot(1800_000, clock.now())
  const { config } = setup(dataDir, { clock: clock.now, upstream: { certDer: [root.der], key: root.key } })
  const ca = new CaManager(config) // caTtl 1 h > the root's remaining 30 min
  await ca.init()
  const f = readCertificateFacts(ca.caCertificateChain()[0]!)
  t.same(f.notAfter, readCertificateFacts(root.der).notAfter)
})

t.test('SVID TTLs are clamped to the signing key’s remaining life', async (t) => {
  const dataDir = t.testdir()
  const { clock, config } = setup(dataDir, { caTtlSeconds: 600 })
  const ca = new CaManager(config)
  await ca.init()
  clock.advance(450_000) // 150 s of CA life left; before activation of the next (at 500 s)
  await ca.rotate()
  const active = ca.authorities()
  const x509 = active.x509.find((a) => a.status === 'active')!
  const jwtKey = active.jwt.find((a) => a.status === 'active')!
  const { publicKey } = await generateKeyPair('ec-p256')
  const svid = ca.signX509Svid({ spiffeId: workload, publicKey, ttlSeconds: 3600 })
  t.ok(svid.notAfter <= x509.notAfter, 'X509-SVID notAfter <= CA notAfter')
  t.ok(x509.notAfter.getTime() - svid.notAfter.getTime() < 1000, 'clamped to it, not shorter')
  const jwt = await ca.signJwtSvid({ spiffeId: workload, audience: ['a'], ttlSeconds: 3600 })
  t.ok(jwt.expiresAt <= jwtKey.notAfter, 'JWT exp <= key notAfter')
  t.ok(jwtKey.notAfter.getTime() - jwt.expiresAt.getTime() < 1000, 'clamped to it')
})

t.test('signing outside the trust domain or before init fails with codes', async (t) => {
  const dataDir = t.testdir()
  const { config } = setup(dataDir)
  const ca = new CaManager(config)
  const { publicKey } = await generateKeyPair('ec-p256')
  t.throws(() => ca.signX509Svid({ spiffeId: workload, publicKey, ttlSeconds: 60 }), {
    code: 'ERR_UNAVAILABLE',
  })
  t.throws(() => ca.currentBundle(), { code: 'ERR_UNAVAILABLE' })
  await ca.init()
  const other = SpiffeId.parse('spiffe://other.org/web')
  t.throws(() => ca.signX509Svid({ spiffeId: other, publicKey, ttlSeconds: 60 }), {
    code: 'ERR_TRUST_DOMAIN_MISMATCH',
  })
})

t.test('a damaged key store stops init instead of minting a new CA', async (t) => {
  const dataDir = t.testdir({ keys: { 'authorities.json': '{"version":1,"x509":[{}],"jwt":[]}' } })
  await chmod(join(dataDir, 'keys'), 0o700)
  await chmod(join(dataDir, 'keys', 'authorities.json'), 0o600) // damaged, not merely too open
  const { store, config } = setup(dataDir)
  const ca = new CaManager(config)
  await t.rejects(ca.init(), { code: 'ERR_DATASTORE', message: /x509\[0\]/ })
  t.equal(store.writes.length, 0, 'nothing published')
})

t.test('run(): loops until aborted, never throws, counts failures for health', async (t) => {
  const dataDir = t.testdir()
  const { clock, store, logger, config } = setup(dataDir, { caTtlSeconds: 60, rotateIntervalMs: 5 })
  const ca = new CaManager(config)
  await ca.init()
  const ac = new AbortController()
  const running = ca.run(ac.signal)
  // Make the next step need a bundle write (prepare the next CA), then break the store.
  store.failWrites = true
  clock.advance(31_000)
  const deadline = Date.now() + 10_000
  while (ca.health().consecutiveFailures < 3 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5))
  const h = ca.health()
  t.ok(h.consecutiveFailures >= 3, 'failures counted')
  t.equal(h.ok, false, 'unhealthy after repeated failures')
  t.match(h.lastError, /datastore is down/)
  t.ok(
    logger.entries.some((e) => e.level === 'error'),
    'failures are logged',
  )
  // Recovery: the store works again; the loop publishes and health returns.
  store.failWrites = false
  while (ca.health().consecutiveFailures > 0 && Date.now() < deadline + 50_000) {
    await new Promise((r) => setTimeout(r, 5))
  }
  t.same(ca.health(), { ok: true, consecutiveFailures: 0 })
  t.equal(ca.currentBundle().x509Authorities.length, 2, 'the prepared CA got published after recovery')
  ac.abort()
  await running
  t.pass('run() resolved after abort')
})

t.test('a refresh hint above the publication lead is warned about', async (t) => {
  const a = setup(t.testdir(), { caTtlSeconds: 60, refreshHintSeconds: 20 })
  new CaManager(a.config)
  t.equal(a.logger.entries.filter((e) => e.level === 'warn').length, 0, '20 s hint with a 20 s lead is fine')
  const b = setup(t.testdir(), { caTtlSeconds: 60, refreshHintSeconds: 21 })
  new CaManager(b.config)
  t.equal(b.logger.entries.filter((e) => e.level === 'warn').length, 1, '21 s hint is warned about')
})
