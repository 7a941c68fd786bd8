// Validation when minted: a new X.509 CA is checked by the path builder against the root it will
// be published under before it is used, and server/agent SVIDs (`validate: true`) against the
// bundle before they are released.
import t from 'tap'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../../certs/x509svid/ca-certificate.js'
import { createX509Authority } from '../../../server/ca/authority.js'
import { CaManager } from '../../../server/ca/ca-manager.js'
import { FakeClock, MemoryBundleStore, RecordingLogger } from './ca-test-kit.js'

const td = TrustDomain.parse('example.org')
const HOUR = 3_600_000

async function upstreamCa(now: Date, issuer?: { der: Buffer; key: import('node:crypto').KeyObject }) {
  const kp = await generateKeyPair('ec-p256')
  const der = await buildCaCertificate({
    trustDomain: td,
    publicKey: kp.publicKey,
    signerKey: issuer?.key ?? kp.privateKey,
    ...(issuer ? { issuerCertDer: issuer.der } : {}),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 24 * HOUR),
  })
  return { der, key: kp.privateKey }
}

t.test('a new CA that does not chain to the configured upstream root is refused when minted', async (t) => {
  const now = new Date()
  const root = await upstreamCa(now)
  const mid = await upstreamCa(now, root)
  const base = { trustDomain: td, keyType: 'ec-p256' as const, ttlSeconds: 3600, now }
  const good = await createX509Authority({
    ...base,
    upstream: { certDer: [mid.der, root.der], key: mid.key },
  })
  t.ok(good.certDer.length > 0, 'chains through the upstream intermediate to the upstream root')
  // The operator's chain names a root that did not issue the intermediate.
  const stranger = await upstreamCa(now)
  await t.rejects(
    createX509Authority({ ...base, upstream: { certDer: [mid.der, stranger.der], key: mid.key } }),
    { code: 'ERR_CERT_INVALID', message: /minted CA certificate refused/ },
  )
  // An upstream root that is not valid yet when the CA is minted (a clock or configuration slip).
  const early = await generateKeyPair('ec-p256')
  const earlyRoot = await buildCaCertificate({
    trustDomain: td,
    publicKey: early.publicKey,
    signerKey: early.privateKey,
    notBefore: new Date(now.getTime() + HOUR),
    notAfter: new Date(now.getTime() + 24 * HOUR),
  })
  const earlyMid = await upstreamCa(now, { der: earlyRoot, key: early.privateKey })
  await t.rejects(
    createX509Authority({ ...base, upstream: { certDer: [earlyMid.der, earlyRoot], key: earlyMid.key } }),
    { code: 'ERR_CERT_INVALID', message: /not valid before/ },
  )
})

t.test('server and agent SVIDs minted with validate: true are checked against the bundle', async (t) => {
  for (const withUpstream of [false, true]) {
    const clock = new FakeClock()
    const root = withUpstream ? await upstreamCa(clock.now()) : undefined
    const ca = new CaManager({
      trustDomain: td,
      dataDir: t.testdir(),
      caTtlSeconds: 3600,
      caKeyType: 'ec-p256',
      jwtKeyType: 'ec-p256',
      bundleStore: new MemoryBundleStore(clock.now),
      refreshHintSeconds: 60,
      clock: clock.now,
      logger: new RecordingLogger(),
      ...(root ? { upstream: { certDer: [root.der], key: root.key } } : {}),
    })
    await ca.init()
    const { publicKey } = await generateKeyPair('ec-p256')
    const spiffeId = SpiffeId.fromPath(td, '/sigil/server')
    const svid = ca.signX509Svid({ spiffeId, publicKey, ttlSeconds: 600, validate: true })
    t.ok(svid.spiffeId.equals(spiffeId), `validated and released (upstream: ${withUpstream})`)
  }
})
