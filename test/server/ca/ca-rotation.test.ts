// The rotation acceptance scenario, with tiny lifetimes on an injected clock:
// - the next key is in the bundle well before it signs anything;
// - retired keys stay in the bundle until every SVID they signed has expired, then leave;
// - every bundle change bumps the sequence number by exactly one;
// - no SVID minted during the run ever fails verification against the bundle current at
//   the time of use (verifyX509Svid, openssl verify, validateJwtSvid, validateWitSvid: the WIT
//   key rotates like the JWT key);
// - all of this holds across a restart in the middle.
import t from 'tap'
import type { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { validateJwtSvid } from '../../../certs/jwtsvid/validate-jwt-svid.js'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { validateWitSvid } from '../../../certs/witsvid/validate-wit-svid.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { CaManager, type CaManagerConfig } from '../../../server/ca/ca-manager.js'
import { retiredGraceMs } from '../../../server/ca/rotation.js'
import { FakeClock, MemoryBundleStore, opensslVerify, RecordingLogger } from './ca-test-kit.js'

const td = TrustDomain.parse('example.org')
const CA_TTL = 60 // seconds: prepare at 30 s, activate at 50 s, grace 5 s
const TICK = 1000
const DURATION = 260_000
const RESTART_AT = 101_000
const LEAD_MS = (CA_TTL * 1000) / 3 // published this long before activation

interface X509Record {
  chain: Buffer[]
  notAfter: Date
  issuer: string // hex DER of the signing CA
  signedAt: Date
}
interface JwtRecord {
  token: string
  expiresAt: Date
  kid: string
}

const hex = (b: Buffer) => b.toString('hex')
const kidOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')).kid

t.test('rotation with tiny lifetimes never leaves a verification gap', async (t) => {
  const dataDir = t.testdir()
  const clock = new FakeClock()
  const start = clock.ms
  const store = new MemoryBundleStore(clock.now)
  const logger = new RecordingLogger()
  const config: CaManagerConfig = {
    trustDomain: td,
    dataDir,
    caTtlSeconds: CA_TTL,
    caKeyType: 'ec-p256',
    jwtKeyType: 'ec-p256',
    bundleStore: store,
    refreshHintSeconds: 5,
    clock: clock.now,
    logger,
  }
  let ca = new CaManager(config)
  await ca.init()
  const { publicKey } = await generateKeyPair('ec-p256')
  const spiffeId = SpiffeId.parse('spiffe://example.org/workload')

  const firstPublished = new Map<string, number>() // CA hex or kid -> time first seen in the store
  const x509s: X509Record[] = []
  const jwts: JwtRecord[] = []
  const wits: JwtRecord[] = []
  const caNotAfter = new Map<string, number>()
  const activeAtRestart = new Set<string>()
  let restarted = false
  let failures = 0
  let writesSeen = store.writes.length
  let x509Checks = 0
  let opensslChecks = 0

  const notePublished = (bundle: TrustBundle) => {
    for (const der of bundle.x509Authorities) {
      if (!firstPublished.has(hex(der))) firstPublished.set(hex(der), clock.ms)
      caNotAfter.set(hex(der), readCertificateFacts(der).notAfter.getTime())
    }
    for (const a of bundle.jwtAuthorities) if (!firstPublished.has(a.kid)) firstPublished.set(a.kid, clock.ms)
  }
  notePublished(store.decoded(td))
  const initialCa = hex(store.decoded(td).x509Authorities[0]!)
  const initialKid = store.decoded(td).jwtAuthorities[0]!.kid

  for (let step = 0; clock.ms - start <= DURATION; step++) {
    const now = clock.now()
    if (!restarted && clock.ms - start >= RESTART_AT) {
      for (const a of ca.authorities().x509) if (a.status === 'active') activeAtRestart.add(hex(a.certDer!))
      for (const a of ca.authorities().jwt) if (a.status === 'active') activeAtRestart.add(a.kid!)
      ca = new CaManager(config)
      await ca.init()
      restarted = true
    }
    await ca.rotate(now)
    const bundle = store.decoded(td) // what a relying party fetching the bundle now gets
    notePublished(bundle)

    // Every SVID still valid verifies against the current bundle. Between bundle writes only
    // time moves, and SVIDs never outlive their CA, so checking each SVID right after it is
    // signed, on the last second of its life, and at every bundle change covers every moment.
    const active = ca.authorities()
    const signerCa = hex(active.x509.find((a) => a.status === 'active')!.certDer!)
    const signerKid = active.jwt.find((a) => a.status === 'active')!.kid!
    const bundleChanged = store.writes.length !== writesSeen
    writesSeen = store.writes.length
    const live = x509s.filter((s) => now < s.notAfter)
    const endOfLife = (s: X509Record) => s.notAfter.getTime() - clock.ms <= TICK
    const toCheck = bundleChanged ? live : live.filter((s) => endOfLife(s) || +s.signedAt === clock.ms - TICK)
    for (const s of toCheck) {
      try {
        verifyX509Svid(s.chain, (d) => (d.equals(td) ? bundle.x509Authorities : undefined), { now })
        x509Checks++
      } catch (e) {
        failures++
        t.fail(`X509-SVID signed at +${+s.signedAt - start} ms failed at +${clock.ms - start} ms: ${e}`)
      }
    }
    // openssl too (one run per batch): at every bundle change, and at the end of life of SVIDs
    // whose CA has been retired (the moment a retired CA is closest to leaving).
    const forOpenssl = bundleChanged ? live : live.filter((s) => endOfLife(s) && s.issuer !== signerCa)
    if (forOpenssl.length > 0) {
      const r = opensslVerify({
        leaf: forOpenssl.map((s) => s.chain[0]!),
        roots: bundle.x509Authorities,
        at: now,
      })
      if (!r.ok) failures++
      t.ok(r.ok, `openssl verify of ${forOpenssl.length} SVIDs at +${clock.ms - start} ms`, {
        output: r.output,
      })
      opensslChecks += forOpenssl.length
    }
    for (const j of jwts) {
      if (now >= j.expiresAt) continue
      try {
        await validateJwtSvid(j.token, { audience: 'db', bundleFor: () => bundle, now })
      } catch (e) {
        failures++
        t.fail(`JWT-SVID (kid ${j.kid}) failed at +${clock.ms - start} ms: ${e}`)
      }
    }
    for (const w of wits) {
      if (now >= w.expiresAt) continue
      try {
        validateWitSvid(w.token, { bundleFor: () => bundle, now })
      } catch (e) {
        failures++
        t.fail(`WIT-SVID (kid ${w.kid}) failed at +${clock.ms - start} ms: ${e}`)
      }
    }

    // Sign: the signer must already be in the bundle, and have been there for the lead time.
    const ttl = step % 7 === 0 ? 30 : 5 // some SVIDs get clamped to the CA's notAfter
    const svid = ca.signX509Svid({ spiffeId, publicKey, ttlSeconds: ttl })
    const issuerDer = x509sIssuer(svid.certDer, bundle)
    if (hex(issuerDer ?? Buffer.alloc(0)) !== signerCa) failures++
    t.equal(
      hex(issuerDer ?? Buffer.alloc(0)),
      signerCa,
      'the issuer of a fresh SVID is in the bundle taken before signing',
    )
    if (signerCa !== initialCa) {
      const lead = clock.ms - firstPublished.get(signerCa)!
      if (lead < LEAD_MS - TICK) t.fail(`CA published only ${lead} ms before it signed`)
    }
    t.ok(svid.notAfter.getTime() <= caNotAfter.get(signerCa)!, 'SVID clamped to its CA')
    x509s.push({
      chain: [...svid.chainDer],
      notAfter: svid.notAfter,
      issuer: signerCa,
      signedAt: now,
    })

    const jwt = await ca.signJwtSvid({ spiffeId, audience: ['db'], ttlSeconds: step % 5 === 0 ? 30 : 4 })
    t.equal(kidOf(jwt.token), signerKid)
    t.ok(bundle.findJwtAuthority(signerKid), 'the JWT key is in the bundle taken before signing')
    if (signerKid !== initialKid) {
      const lead = clock.ms - firstPublished.get(signerKid)!
      if (lead < LEAD_MS - TICK) t.fail(`JWT key published only ${lead} ms before it signed`)
    }
    jwts.push({ token: jwt.token, expiresAt: jwt.expiresAt, kid: signerKid })

    const witKid = active.wit.find((a) => a.status === 'active')!.kid!
    const wit = ca.signWitSvid({ spiffeId, workloadKey: publicKey, ttlSeconds: step % 5 === 0 ? 30 : 4 })
    t.equal(kidOf(wit.token), witKid)
    t.ok(bundle.findWitAuthority(witKid), 'the WIT key is in the bundle taken before signing')
    t.notOk(bundle.findJwtAuthority(witKid), 'and is no JWT key')
    wits.push({ token: wit.token, expiresAt: wit.expiresAt, kid: witKid })

    t.ok(ca.health().ok, 'healthy') || failures++
    clock.advance(TICK)
  }
  t.equal(failures, 0, 'no SVID ever failed verification against the bundle of its time')
  t.ok(new Set(wits.map((w) => w.kid)).size >= 3, 'the WIT key rotated')
  t.ok(x509Checks > x509s.length * 2, `${x509Checks} verifyX509Svid checks of ${x509s.length} X509-SVIDs`)
  t.ok(opensslChecks > 50, `${opensslChecks} openssl verifications`)

  // Sequence numbers: every write is the previous + 1 and really changes the authorities.
  const writes = store.writes
  for (let i = 1; i < writes.length; i++) {
    const prev = writes[i - 1]!
    const cur = writes[i]!
    t.equal(cur.bundle.sequenceNumber, prev.bundle.sequenceNumber + 1, `write ${i}: sequence +1`)
    t.not(cur.bundle.spiffeBundleJson, prev.bundle.spiffeBundleJson, `write ${i}: content changed`)
  }
  t.equal(writes[0]?.bundle.sequenceNumber, 1)

  // Retired authorities left the bundle only after their SVIDs expired, and soon after.
  const decodedWrites = writes.map((w) => ({
    at: w.at.getTime(),
    bundle: decodeAt(w.bundle.spiffeBundleJson),
  }))
  const removedAt = new Map<string, number>()
  for (let i = 1; i < decodedWrites.length; i++) {
    const before = decodedWrites[i - 1]!.bundle
    const after = decodedWrites[i]!.bundle
    for (const der of before.x509Authorities) {
      if (!after.hasX509Authority(der)) removedAt.set(hex(der), decodedWrites[i]!.at)
    }
    for (const a of before.jwtAuthorities) {
      if (!after.findJwtAuthority(a.kid)) removedAt.set(a.kid, decodedWrites[i]!.at)
    }
  }
  const grace = retiredGraceMs({ notBefore: new Date(0), notAfter: new Date(CA_TTL * 1000) })
  let checkedCas = 0
  for (const [ca, at] of removedAt) {
    const signed = [...x509s.filter((s) => s.issuer === ca), ...jwts.filter((j) => j.kid === ca)]
    const lastExpiry = Math.max(...signed.map((s) => ('notAfter' in s ? s.notAfter : s.expiresAt).getTime()))
    t.ok(
      at >= lastExpiry + grace,
      `${ca.slice(0, 12)} removed ${at - lastExpiry} ms after its last SVID expired`,
    )
    // An authority active at the restart has an unknown signing record: it stays until its notAfter.
    const expected = activeAtRestart.has(ca) ? (caNotAfter.get(ca) ?? lastExpiry) : lastExpiry
    t.ok(at <= Math.max(expected, lastExpiry) + grace + 2 * TICK, `${ca.slice(0, 12)} removed promptly`)
    checkedCas++
  }
  t.ok(removedAt.has(initialCa) && removedAt.has(initialKid), 'the first CA and JWT key did leave the bundle')
  t.ok(checkedCas >= 10, `${checkedCas} retired authorities checked`)
  t.ok(
    [...removedAt.keys()].some(
      (k) => !activeAtRestart.has(k) && removedAt.get(k)! < (caNotAfter.get(k) ?? Infinity),
    ),
    'a retired CA whose SVIDs all expired left before its own notAfter',
  )
  t.ok(restarted, 'the scenario included a restart')
  const final = store.decoded(td)
  t.ok(final.x509Authorities.length <= 3 && final.jwtAuthorities.length <= 3, 'the bundle does not grow')
  t.notMatch(logger.text(), /PRIVATE KEY/, 'no key material in the logs')
  t.ok(
    logger.entries.some((e) => e.msg === 'X.509 CA activated'),
    'activations are logged',
  )
})

function x509sIssuer(leaf: Buffer, bundle: TrustBundle): Buffer | undefined {
  const issuer = readCertificateFacts(leaf).issuerRaw
  return bundle.x509Authorities.find((der) => readCertificateFacts(der).subjectRaw.equals(issuer))
}

function decodeAt(json: string): TrustBundle {
  return decodeSpiffe(json)
}

import { decodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'

function decodeSpiffe(json: string): TrustBundle {
  return decodeSpiffeBundle(td, json)
}
