// The DER writer and reader (certs/lib/der.ts, der-reader.ts) and the helpers built on them:
// SPKI from JWK, key identifiers, serial numbers.
import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { generateKeyPair, KEY_TYPES } from '../../../certs/keys/keys.js'
import { ensureCryptoProvider } from '../../../certs/lib/crypto-provider.js'
import * as der from '../../../certs/lib/der.js'
import { readChildren, readElement, readWhole } from '../../../certs/lib/der-reader.js'
import { keyIdentifierOf, keyIdentifierOfSpki } from '../../../certs/lib/key-identifier.js'
import { randomSerialNumber, SerialNumberSource } from '../../../certs/lib/serial-number.js'
import { spkiOf } from '../../../certs/lib/spki.js'
import { openssl } from './openssl.js'

const hex = (b: Buffer) => b.toString('hex')

t.test('length octets: short form below 128, minimal long form above', async (t) => {
  t.equal(hex(der.encodeLength(0)), '00')
  t.equal(hex(der.encodeLength(127)), '7f')
  t.equal(hex(der.encodeLength(128)), '8180')
  t.equal(hex(der.encodeLength(255)), '81ff')
  t.equal(hex(der.encodeLength(256)), '820100')
  t.equal(hex(der.encodeLength(65535)), '82ffff')
  t.equal(hex(der.encodeLength(65536)), '83010000')
  for (const n of [0, 1, 127, 128, 255, 256, 1000, 65535, 65536, 70000]) {
    const el = der.octetString(Buffer.alloc(n, 7))
    t.equal(
      hex(el.subarray(1, 1 + der.encodeLength(n).length)),
      hex(der.encodeLength(n)),
      `tlv header for ${n}`,
    )
    const r = readWhole(el, der.TAG.OCTET_STRING, 'ERR_CERT_INVALID')
    t.equal(r.end - r.contentStart, n, `reader agrees for ${n}`)
  }
  t.throws(() => der.encodeLength(-1), TypeError)
})

t.test('INTEGER is minimal and positive', async (t) => {
  t.equal(hex(der.integer(Buffer.from([0]))), '020100')
  t.equal(hex(der.integer(Buffer.alloc(0))), '020100')
  t.equal(hex(der.integer(Buffer.from([0, 0, 5]))), '020105')
  t.equal(hex(der.integer(Buffer.from([0x7f]))), '02017f')
  t.equal(hex(der.integer(Buffer.from([0x80]))), '02020080')
  t.equal(hex(der.integer(Buffer.from([0, 0x80, 1]))), '0203008001')
  t.equal(hex(der.smallInteger(2)), '020102')
  t.equal(hex(der.smallInteger(256)), '02020100')
})

t.test('OIDs, strings, booleans, bit strings, context tags', async (t) => {
  t.equal(hex(der.oid('2.5.29.17')), '0603551d11')
  t.equal(hex(der.oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302')
  t.equal(hex(der.oid('1.3.6.1.5.5.7.3.1')), '06082b06010505070301')
  t.throws(() => der.oid('3.1'), TypeError)
  t.throws(() => der.oid('1'), TypeError)
  t.equal(hex(der.boolean(true)), '0101ff')
  t.equal(hex(der.printableString('US')), '13025553')
  t.throws(() => der.printableString('a*b'), TypeError)
  t.throws(() => der.ia5String('é'), TypeError)
  t.equal(hex(der.utf8String('é')), '0c02c3a9')
  t.equal(hex(der.bitString(Buffer.from([0xa8]), 3)), '030203a8')
  t.equal(hex(der.contextTag(6, false, Buffer.from('a'))), '860161')
  t.equal(hex(der.contextTag(3, true, der.sequence())), 'a3023000')
})

t.test('Time: UTCTime through 2049, GeneralizedTime from 2050 and before 1950', async (t) => {
  const ascii = (b: Buffer) => [b[0], b.subarray(2).toString('latin1')]
  t.same(ascii(der.utcOrGeneralizedTime(new Date('2049-12-31T23:59:59.999Z'))), [0x17, '491231235959Z'])
  t.same(ascii(der.utcOrGeneralizedTime(new Date('2050-01-01T00:00:00Z'))), [0x18, '20500101000000Z'])
  t.same(ascii(der.utcOrGeneralizedTime(new Date('1950-01-01T00:00:00Z'))), [0x17, '500101000000Z'])
  t.same(ascii(der.utcOrGeneralizedTime(new Date('1949-12-31T23:59:59Z'))), [0x18, '19491231235959Z'])
  t.same(ascii(der.utcOrGeneralizedTime(new Date('2000-02-29T01:02:03Z'))), [0x17, '000229010203Z'])
  t.same(ascii(der.utcOrGeneralizedTime(new Date('9999-12-31T23:59:59Z'))), [0x18, '99991231235959Z'])
  t.throws(() => der.utcOrGeneralizedTime(new Date('x')), TypeError)
  // OpenSSL reads both forms back.
  for (const d of ['2049-12-31T23:59:59Z', '2050-01-01T00:00:00Z']) {
    const r = await openssl(
      ['asn1parse', '-inform', 'DER'],
      der.sequence(der.utcOrGeneralizedTime(new Date(d))),
    )
    t.equal(r.code, 0)
    t.match(
      r.stdout,
      d.startsWith('2049') ? /UTCTIME\s+:491231235959Z/ : /GENERALIZEDTIME\s+:20500101000000Z/,
    )
  }
})

t.test('reader rejects truncation, indefinite and non-minimal lengths, trailing data', async (t) => {
  const good = der.sequence(der.integer(Buffer.from([1])), der.octetString(Buffer.alloc(200)))
  const code = 'ERR_CERT_INVALID' as const
  t.equal(readChildren(good, readWhole(good, 0x30, code), code).length, 2)
  for (let cut = 0; cut < good.length; cut += 7) {
    t.throws(() => readWhole(good.subarray(0, cut), 0x30, code), { code }, `truncated at ${cut}`)
  }
  t.throws(() => readWhole(Buffer.concat([good, Buffer.from([0])]), 0x30, code), { code })
  t.throws(() => readElement(Buffer.from('3080020101 0000'.replace(' ', ''), 'hex'), 0, 7, code), { code })
  t.throws(() => readElement(Buffer.from('30810100', 'hex'), 0, 4, code), { code }, 'long form for < 128')
  t.throws(
    () => readElement(Buffer.from('3082000100', 'hex'), 0, 5, code),
    { code },
    'leading zero length octet',
  )
  t.throws(() => readElement(Buffer.from('1f0100', 'hex'), 0, 3, code), { code }, 'multi-octet tag')
  t.throws(() => readWhole(good, 0x31, code), { code }, 'wrong tag')
  // A child that overruns its parent.
  t.throws(
    () =>
      readChildren(
        Buffer.from('3003020501', 'hex'),
        readWhole(Buffer.from('3003020501', 'hex'), 0x30, code),
        code,
      ),
    { code },
  )
})

t.test('SPKI from JWK equals OpenSSL export; key identifiers match @peculiar/x509', async (t) => {
  const x509 = ensureCryptoProvider()
  for (const type of KEY_TYPES) {
    for (let i = 0; i < 8; i++) {
      const { publicKey, privateKey } = await generateKeyPair(type)
      const spki = publicKey.export({ type: 'spki', format: 'der' })
      t.ok(spkiOf(publicKey).equals(spki), `${type} #${i}`)
      if (i < 3) {
        const peculiar = await x509.SubjectKeyIdentifierExtension.create(spki)
        t.equal(hex(keyIdentifierOfSpki(spki)), peculiar.keyId, `${type} SKI`)
        t.same(keyIdentifierOf(privateKey), keyIdentifierOf(publicKey))
      }
    }
  }
  const ed = generateKeyPairSync('ed25519').publicKey
  t.throws(() => spkiOf(ed), { code: 'ERR_KEY_UNSUPPORTED' })
})

t.test('serial numbers: positive, minimal, at most 17 octets, unique', async (t) => {
  const source = new SerialNumberSource()
  const seen = new Set<string>()
  const problems: string[] = []
  for (let i = 0; i < 5000; i++) {
    const s = i % 2 ? source.next() : randomSerialNumber()
    const enc = der.integer(s)
    if (s.length < 1 || s.length > 16) problems.push(`length ${s.length}`)
    if (s.length > 1 && s[0] === 0) problems.push(`leading zero ${hex(s)}`)
    if (enc[1]! > 17 || (enc[2]! & 0x80) !== 0) problems.push(`encoding ${hex(enc)}`)
    seen.add(hex(s))
  }
  t.same(problems, [])
  t.equal(seen.size, 5000)
})
