// The one DER length codec (certs/lib/der-length.ts): boundary lengths round-trip through the
// writer and both readers, and the readers refuse the forms DER forbids, with one cap.
import t from 'tap'
import * as der from '../../../certs/lib/der.js'
import {
  derLengthSize,
  derSequenceLength,
  encodeDerLength,
  MAX_DER_LENGTH,
  readDerLength,
} from '../../../certs/lib/der-length.js'
import { readElement } from '../../../certs/lib/der-reader.js'
import { openssl } from '../x509svid/openssl.js'

const hex = (b: Buffer) => b.toString('hex')
const BOUNDARIES: [number, string][] = [
  [0, '00'],
  [127, '7f'],
  [128, '8180'],
  [255, '81ff'],
  [256, '820100'],
  [65535, '82ffff'],
  [65536, '83010000'],
  [MAX_DER_LENGTH, '83100000'],
]

t.test('boundary lengths: minimal octets, and every reader reads them back', async (t) => {
  for (const [n, octets] of BOUNDARIES) {
    t.equal(hex(encodeDerLength(n)), octets, `octets for ${n}`)
    t.equal(derLengthSize(n), octets.length / 2, `size for ${n}`)
    t.equal(readDerLength(Buffer.from(octets, 'hex'), 0, octets.length / 2), n, `read ${n}`)
    const seq = der.sequence(der.octetString(Buffer.alloc(Math.max(0, n - 1 - derLengthSize(n - 1)))))
    if (n > 0) {
      t.equal(hex(seq.subarray(1, 1 + derLengthSize(n))), octets, `tlv writes ${n}`)
      t.equal(derSequenceLength(seq, 0), seq.length, `derSequenceLength agrees for ${n}`)
      t.equal(
        readElement(seq, 0, seq.length, 'ERR_CERT_INVALID').end,
        seq.length,
        `readElement agrees for ${n}`,
      )
    }
  }
  t.throws(() => encodeDerLength(-1), TypeError)
  t.throws(() => encodeDerLength(1.5), TypeError)
})

t.test('OpenSSL reads the long forms the writer produces', async (t) => {
  for (const n of [127, 128, 255, 256, 65535, 65536]) {
    const r = await openssl(
      ['asn1parse', '-inform', 'DER'],
      der.sequence(der.octetString(Buffer.alloc(n, 1))),
    )
    t.equal(r.code, 0, `openssl parses a ${n}-octet OCTET STRING`)
    t.match(r.stdout, new RegExp(`l=\\s*${n} prim: OCTET STRING`))
  }
})

t.test('refused: indefinite, non-minimal, over the cap, truncated', async (t) => {
  const refused: [string, string, RegExp][] = [
    ['80', 'indefinite', /indefinite/],
    ['817f', 'long form below 128', /non-minimal/],
    ['820080', 'leading zero octet', /non-minimal/],
    ['8200ff', 'leading zero octet (255)', /non-minimal/],
    ['83000100', 'leading zero octet (256)', /non-minimal/],
    ['83100001', 'one octet over the cap', /too large/],
    ['84000f0000', 'four length octets', /too large/],
    ['82ff', 'truncated length', /truncated/],
    ['', 'no length at all', /truncated/],
  ]
  for (const [octets, name, why] of refused) {
    const buf = Buffer.from(octets, 'hex')
    t.match(readDerLength(buf, 0, buf.length), why, name)
    if (buf.length === 0) continue
    const el = Buffer.concat([Buffer.from([0x30]), buf, Buffer.alloc(4)])
    t.throws(() => readElement(el, 0, el.length, 'ERR_CERT_INVALID'), { code: 'ERR_CERT_INVALID' }, name)
    t.type(derSequenceLength(el, 0), 'string', `derSequenceLength refuses: ${name}`)
  }
  // Content shorter than the length says.
  t.match(derSequenceLength(Buffer.from('3081800000', 'hex'), 0), /truncated/)
})
