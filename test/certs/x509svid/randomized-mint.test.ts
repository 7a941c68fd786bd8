// Randomized check of the hand-written DER on the minting hot path: thousands of leaves with
// random SPIFFE IDs, DNS names, TTLs, key types and issuing times (including years past 2049,
// where the encoding switches from UTCTime to GeneralizedTime) must each parse identically with
// @peculiar/x509 and with Node's (OpenSSL's) X509Certificate, verify against the CA key, pass our
// own verifier, and — on a sample — `openssl verify -x509_strict`.
import { type KeyObject, X509Certificate } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { generateKeyPair, KEY_TYPES, type KeyType } from '../../../certs/keys/keys.js'
import { ensureCryptoProvider } from '../../../certs/lib/crypto-provider.js'
import { readChildren, readWhole } from '../../../certs/lib/der-reader.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../../certs/x509svid/ca-certificate.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { type MintedX509Svid, X509SvidMinter } from '../../../certs/x509svid/x509-svid-minter.js'
import { opensslVerify } from './openssl.js'

const LEAVES = 2000
const OPENSSL_SAMPLE = 60
const CA_NOT_BEFORE = new Date('2001-01-01T00:00:00Z')
const CA_NOT_AFTER = new Date('2199-12-31T23:59:59Z')

const rand = (n: number) => Math.floor(Math.random() * n)
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!
const SEG = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-'
const LABEL = 'abcdefghijklmnopqrstuvwxyz0123456789-'

function randomPath(): string {
  const segs: string[] = []
  for (let i = 0, n = 1 + rand(6); i < n; i++) {
    let s = ''
    for (let j = 0, m = 1 + rand(rand(10) === 0 ? 120 : 12); j < m; j++) s += pick([...SEG])
    segs.push(s === '.' || s === '..' ? `${s}x` : s)
  }
  return `/${segs.join('/')}`
}

function randomDnsName(): string {
  const labels: string[] = rand(5) === 0 ? ['*'] : []
  for (let i = 0, n = 1 + rand(4); i < n; i++) {
    let l = pick([...'abcdefghijklmnopqrstuvwxyz0123456789'])
    for (let j = 0, m = rand(rand(8) === 0 ? 62 : 10); j < m; j++) l += pick([...LABEL])
    labels.push(l.endsWith('-') ? `${l}z` : l)
  }
  return labels.join('.')
}

function randomNow(): Date {
  switch (rand(5)) {
    case 0:
      return new Date()
    case 1: // straddling the UTCTime/GeneralizedTime switch
      return new Date(Date.UTC(2049, 11, 31, 23, 59, 50) + rand(30_000))
    case 2: // close to the CA's end, so TTLs get clamped
      return new Date(CA_NOT_AFTER.getTime() - rand(30 * 86_400_000))
    default:
      return new Date(
        CA_NOT_BEFORE.getTime() + 60_000 + rand(CA_NOT_AFTER.getTime() - CA_NOT_BEFORE.getTime() - 120_000),
      )
  }
}

/** Node's X509Certificate validFrom/validTo strings ("Jan  1 00:00:00 2050 GMT") as Dates. */
const nodeDate = (s: string) => new Date(s)

/** The tags of the validity Times of a certificate: [notBefore tag, notAfter tag]. */
function validityTags(der: Buffer): number[] {
  const code = 'ERR_CERT_INVALID' as const
  const [tbs] = readChildren(der, readWhole(der, 0x30, code), code)
  const fields = readChildren(der, tbs!, code)
  const validity = fields[4]!
  return readChildren(der, validity, code).map((e) => e.tag)
}

const expectedTag = (d: Date) => (d.getUTCFullYear() >= 1950 && d.getUTCFullYear() <= 2049 ? 0x17 : 0x18)

interface Setup {
  name: string
  rootDer: Buffer
  caPublicKey: KeyObject
  minter: X509SvidMinter
  intermediateDer?: Buffer
}

async function setup(caType: KeyType, withIntermediate: boolean): Promise<Setup> {
  const td = TrustDomain.parse('rand.example')
  const root = await generateKeyPair(caType)
  const base = { trustDomain: td, notBefore: CA_NOT_BEFORE, notAfter: CA_NOT_AFTER }
  const rootDer = await buildCaCertificate({ ...base, publicKey: root.publicKey, signerKey: root.privateKey })
  const name = `${caType}${withIntermediate ? '+intermediate' : ''}`
  if (!withIntermediate) {
    return {
      name,
      rootDer,
      caPublicKey: root.publicKey,
      minter: new X509SvidMinter({ caCertDer: rootDer, caKey: root.privateKey }),
    }
  }
  const inter = await generateKeyPair(caType)
  const intermediateDer = await buildCaCertificate({
    ...base,
    publicKey: inter.publicKey,
    signerKey: root.privateKey,
    issuerCertDer: rootDer,
  })
  const minter = new X509SvidMinter({ caCertDer: intermediateDer, caKey: inter.privateKey })
  return { name, rootDer, caPublicKey: inter.publicKey, minter, intermediateDer }
}

t.test(`${LEAVES} random leaves parse with @peculiar/x509 and Node, and verify`, async (t) => {
  const x509 = ensureCryptoProvider()
  const setups = [await setup('ec-p256', false), await setup('ec-p384', true), await setup('rsa-2048', false)]
  const leafKeys: Record<KeyType, KeyObject[]> = { 'ec-p256': [], 'ec-p384': [], 'rsa-2048': [] }
  for (const type of KEY_TYPES) {
    for (let i = 0; i < (type === 'rsa-2048' ? 4 : 12); i++)
      leafKeys[type].push((await generateKeyPair(type)).publicKey)
  }
  const problems: string[] = []
  const sample: { setup: Setup; svid: MintedX509Svid; at: Date }[] = []
  const seenSerials = new Set<string>()
  let clamped = 0
  let generalized = 0

  for (let i = 0; i < LEAVES; i++) {
    const s = setups[i % setups.length]!
    const publicKey = pick(leafKeys[pick(KEY_TYPES)])
    const spiffeId = SpiffeId.fromPath(s.minter.trustDomain, randomPath())
    const dnsNames = Array.from({ length: rand(4) }, randomDnsName)
    const ttlSeconds = 1 + rand(rand(2) ? 3600 : 20 * 365 * 86_400)
    const now = randomNow()
    const svid = s.minter.mint({ spiffeId, publicKey, ttlSeconds, dnsNames, now })
    const fail = (why: string) => problems.push(`#${i} ${s.name} ${spiffeId} at ${now.toISOString()}: ${why}`)

    const expectNotBefore = Math.floor((now.getTime() - 10_000) / 1000) * 1000
    const expectNotAfter =
      Math.floor(Math.min(now.getTime() + ttlSeconds * 1000, CA_NOT_AFTER.getTime()) / 1000) * 1000
    if (expectNotAfter === CA_NOT_AFTER.getTime()) clamped++
    if (svid.notBefore.getTime() !== expectNotBefore) fail('notBefore')
    if (svid.notAfter.getTime() !== expectNotAfter) fail('notAfter')
    if (seenSerials.has(svid.serialHex)) fail('duplicate serial')
    seenSerials.add(svid.serialHex)

    // @peculiar/x509's reading.
    const p = new x509.X509Certificate(svid.certDer)
    const names = p.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []
    if (
      names.map((n) => `${n.type}:${n.value}`).join(',') !==
      [`url:${spiffeId}`, ...dnsNames.map((d) => `dns:${d}`)].join(',')
    ) {
      fail('peculiar SAN')
    }
    if (p.serialNumber.toLowerCase() !== svid.serialHex) fail(`peculiar serial ${p.serialNumber}`)
    if (p.notBefore.getTime() !== expectNotBefore || p.notAfter.getTime() !== expectNotAfter)
      fail('peculiar validity')
    const cn = dnsNames[0] !== undefined && dnsNames[0].length <= 64 ? `, CN=${dnsNames[0]}` : ''
    if (p.subject !== `C=US, O=SPIFFE${cn}`) fail(`peculiar subject ${p.subject}`)
    if (p.getExtension(x509.BasicConstraintsExtension)?.ca !== false) fail('peculiar CA flag')

    // Node's (OpenSSL's) reading.
    const n = new X509Certificate(svid.certDer)
    const san = [`URI:${spiffeId}`, ...dnsNames.map((d) => `DNS:${d}`)].join(', ')
    if (n.subjectAltName !== san) fail(`node SAN ${n.subjectAltName}`)
    if (nodeDate(n.validFrom).getTime() !== expectNotBefore) fail(`node validFrom ${n.validFrom}`)
    if (nodeDate(n.validTo).getTime() !== expectNotAfter) fail(`node validTo ${n.validTo}`)
    if (n.serialNumber.toLowerCase() !== svid.serialHex) fail(`node serial ${n.serialNumber}`)
    if (!n.publicKey.equals(publicKey)) fail('node public key')
    if (!n.verify(s.caPublicKey)) fail('signature')
    if (n.ca) fail('node CA flag')

    const tags = validityTags(svid.certDer)
    if (tags[0] !== expectedTag(svid.notBefore) || tags[1] !== expectedTag(svid.notAfter))
      fail(`time tags ${tags}`)
    if (tags.includes(0x18)) generalized++

    try {
      const v = verifyX509Svid(svid.chainDer, () => [s.rootDer], { now })
      if (!v.spiffeId.equals(spiffeId)) fail('verified ID')
    } catch (e) {
      fail(`verifyX509Svid: ${String(e)}`)
    }
    if (sample.length < OPENSSL_SAMPLE && i % Math.floor(LEAVES / OPENSSL_SAMPLE) === 0)
      sample.push({ setup: s, svid, at: now })
  }
  t.same(problems.slice(0, 10), [], `no problems among ${LEAVES} leaves (${problems.length} found)`)
  t.ok(clamped > 50, `${clamped} leaves had NotAfter clamped to the CA`)
  t.ok(generalized > 500, `${generalized} leaves used GeneralizedTime`)

  // openssl, at each leaf's issuing time (+1 s, or 1 s before its notAfter), batched per setup and time.
  const dir = await mkdtemp(join(tmpdir(), 'sigil-rand-'))
  const byCall = new Map<string, { setup: Setup; at: Date; files: string[] }>()
  for (const [i, { setup: s, svid, at }] of sample.entries()) {
    const file = join(dir, `leaf-${i}.pem`)
    await writeFile(file, certificatesToPem([svid.certDer]))
    // openssl counts a certificate as expired AT its notAfter second (X509_cmp_time: equal is
    // earlier), so check no later than one second before it (a 1 s TTL, a leaf clamped to the CA)
    const when = new Date(Math.min(at.getTime() + 1000, svid.notAfter.getTime() - 1000))
    const key = `${s.name}@${Math.floor(when.getTime() / 1000)}`
    const entry = byCall.get(key) ?? { setup: s, at: when, files: [] }
    entry.files.push(file)
    byCall.set(key, entry)
  }
  let verified = 0
  for (const [key, { setup: s, at, files }] of byCall) {
    const rootPath = join(dir, `${s.name}-root.pem`)
    await writeFile(rootPath, certificatesToPem([s.rootDer]))
    let untrusted: string | undefined
    if (s.intermediateDer) {
      untrusted = join(dir, `${s.name}-intermediate.pem`)
      await writeFile(untrusted, certificatesToPem([s.intermediateDer]))
    }
    const r = await opensslVerify({
      caFile: rootPath,
      ...(untrusted ? { untrusted } : {}),
      attime: at,
      leafFiles: files,
    })
    if (r.code === 0) verified += files.length
    else t.fail(`openssl verify ${key}: ${r.stdout}${r.stderr}`)
  }
  t.equal(verified, sample.length, `openssl verify -x509_strict accepted all ${sample.length} sampled leaves`)
})
