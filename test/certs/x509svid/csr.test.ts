// PKCS#10 CSRs: ours verify with openssl, openssl's parse with ours, only the public key is
// taken, and no input (random, truncated, mutated, tampered) throws anything but SigilError.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isSigilError } from '../../../certs/errors.js'
import { generateKeyPair, KEY_TYPES, privateKeyToPkcs8Pem } from '../../../certs/keys/keys.js'
import { ensureCryptoProvider } from '../../../certs/lib/crypto-provider.js'
import * as der from '../../../certs/lib/der.js'
import { rawOf, readChildren, readWhole } from '../../../certs/lib/der-reader.js'
import { createCsr, parseCsr } from '../../../certs/x509svid/csr.js'
import { openssl } from './openssl.js'

const CSR_CODES = ['ERR_CSR_INVALID', 'ERR_KEY_UNSUPPORTED'] as const

t.test('createCsr → parseCsr round trip, and openssl verifies our CSRs', async (t) => {
  for (const type of KEY_TYPES) {
    const keys = await generateKeyPair(type)
    const csr = await createCsr(keys)
    const { publicKey } = await parseCsr(csr)
    t.ok(publicKey.equals(keys.publicKey), `${type}: the CSR's key comes back`)
    const peculiar = new (ensureCryptoProvider().Pkcs10CertificateRequest)(csr)
    t.ok(await peculiar.verify(), `${type}: @peculiar/x509 verifies it`)
    t.equal(peculiar.subject, '', `${type}: empty subject`)
    const r = await openssl(['req', '-inform', 'DER', '-verify', '-noout'], csr)
    t.equal(r.code, 0, `openssl req -verify (${type}): ${r.stderr}`)
    t.match(r.stdout + r.stderr, /verify OK/i)
  }
})

t.test('CSRs made by openssl: only the public key is taken', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-csr-'))
  for (const type of KEY_TYPES) {
    const keys = await generateKeyPair(type)
    const keyPath = join(dir, `${type}.key`)
    await writeFile(keyPath, privateKeyToPkcs8Pem(keys.privateKey))
    const r = await openssl([
      'req',
      '-new',
      '-key',
      keyPath,
      '-subj',
      '/CN=evil/O=attacker',
      '-addext',
      'subjectAltName=URI:spiffe://other.org/admin',
      '-outform',
      'DER',
    ])
    t.equal(r.code, 0, r.stderr)
    const csr = r.stdoutBytes
    const parsed = await parseCsr(csr)
    t.same(Object.keys(parsed), ['publicKey'], 'nothing but the key')
    t.ok(parsed.publicKey.equals(keys.publicKey))
  }
})

t.test('unsupported key types are refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-csr-'))
  const cases: [string, Parameters<typeof generateKeyPairSync>, string][] = [
    ['ed25519', ['ed25519'] as unknown as Parameters<typeof generateKeyPairSync>, 'ERR_CSR_INVALID'],
    [
      'p521',
      ['ec', { namedCurve: 'secp521r1' }] as unknown as Parameters<typeof generateKeyPairSync>,
      'ERR_KEY_UNSUPPORTED',
    ],
    [
      'rsa1024',
      ['rsa', { modulusLength: 1024 }] as unknown as Parameters<typeof generateKeyPairSync>,
      'ERR_KEY_UNSUPPORTED',
    ],
  ]
  for (const [name, args, code] of cases) {
    const { privateKey } = generateKeyPairSync(...args)
    const keyPath = join(dir, `${name}.key`)
    await writeFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
    const r = await openssl(['req', '-new', '-key', keyPath, '-subj', '/CN=x', '-outform', 'DER'])
    t.equal(r.code, 0, r.stderr)
    await t.rejects(parseCsr(r.stdoutBytes), { code }, name)
  }
})

t.test('tampered CSRs are rejected', async (t) => {
  for (const type of KEY_TYPES) {
    const csr = await createCsr(await generateKeyPair(type))
    const sigFlip = Buffer.from(csr)
    sigFlip[sigFlip.length - 5]! ^= 0x01
    await t.rejects(parseCsr(sigFlip), { code: 'ERR_CSR_INVALID' }, `${type}: signature byte flipped`)
    // Swap in another key: the signature no longer matches.
    const other = await createCsr(await generateKeyPair(type))
    const swapped = spliceSpki(csr, other)
    await t.rejects(parseCsr(swapped), { code: 'ERR_CSR_INVALID' }, `${type}: public key swapped`)
  }
})

t.test('fuzz: random, truncated and bit-flipped input only ever throws SigilError', async (t) => {
  const seeds = await Promise.all(KEY_TYPES.map(async (k) => createCsr(await generateKeyPair(k))))
  const inputs: Buffer[] = []
  for (let i = 0; i < 500; i++) inputs.push(randomBytes(Math.floor(Math.random() * 600)))
  for (let i = 0; i < 200; i++) inputs.push(Buffer.concat([Buffer.from([0x30, 0x82]), randomBytes(300)]))
  for (const seed of seeds) {
    for (let cut = 0; cut < seed.length; cut++) inputs.push(seed.subarray(0, cut))
    for (let i = 0; i < seed.length; i++) {
      const m = Buffer.from(seed)
      m[i]! ^= 1 << Math.floor(Math.random() * 8)
      inputs.push(m)
    }
    inputs.push(Buffer.concat([seed, Buffer.from([0])]))
  }
  const unexpected: string[] = []
  let accepted = 0
  for (const input of inputs) {
    try {
      await parseCsr(input)
      accepted++
    } catch (e) {
      if (!isSigilError(e, ...CSR_CODES)) unexpected.push(String(e))
    }
  }
  t.same(unexpected.slice(0, 5), [], 'no error other than SigilError ERR_CSR_INVALID / ERR_KEY_UNSUPPORTED')
  t.equal(accepted, 0, 'no corrupted CSR is accepted')
  t.ok(inputs.length > 2000, `${inputs.length} inputs tried`)
  await t.rejects(parseCsr('MIIB' as unknown as Buffer), TypeError, 'a string is a caller bug')
})

/** `csr` with its SubjectPublicKeyInfo replaced by the one in `donor` (signature left as is). */
function spliceSpki(csr: Buffer, donor: Buffer): Buffer {
  const code = 'ERR_CSR_INVALID' as const
  const parts = (b: Buffer) => {
    const [info, ...rest] = readChildren(b, readWhole(b, 0x30, code), code)
    return { info: readChildren(b, info!, code).map((e) => rawOf(b, e)), rest: rest.map((e) => rawOf(b, e)) }
  }
  const a = parts(csr)
  const d = parts(donor)
  const info = [...a.info]
  info[2] = d.info[2]!
  return der.sequence(der.sequence(...info), ...a.rest)
}
