import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { decodePemBundle, encodePemBundle } from '../../../certs/bundle/pem-bundle.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { keyPair, makeCa, openssl, sigilCode } from './fixtures.js'

const td = TrustDomain.parse('example.org')
const cas = [makeCa('ec-p256', 'A root'), makeCa('rsa-2048', 'B root'), makeCa('ec-p384', 'C root')]
const bundle = TrustBundle.create({ trustDomain: td, x509Authorities: cas.map((c) => c.der) })
const INVALID = sigilCode('ERR_BUNDLE_INVALID')
const dir = mkdtempSync(join(tmpdir(), 'sigil-pem-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('encodePemBundle output is read by openssl, every certificate', async (t) => {
  const pem = encodePemBundle(bundle)
  t.match(pem, /^-----BEGIN CERTIFICATE-----\n/)
  for (const line of pem.split('\n')) t.ok(line.length <= 64, 'lines of at most 64 characters')
  const file = join(dir, 'bundle.pem')
  writeFileSync(file, pem)
  const out = openssl(['storeutl', '-noout', '-certs', file]).toString()
  t.match(out, /Total found: 3/)
  // openssl converts each PEM block back to exactly our DER
  for (const [i, c] of cas.entries()) {
    const single = pem.split(/(?<=-----END CERTIFICATE-----\n)/)[i] as string
    t.ok(openssl(['x509', '-outform', 'DER'], single).equals(c.der))
  }
  t.equal(encodePemBundle(TrustBundle.create({ trustDomain: td })), '')
})

t.test('decodePemBundle reads openssl PEM, CRLF and explanatory text', async (t) => {
  const fromOpenssl = cas.map((c) => openssl(['x509', '-inform', 'DER'], c.der).toString()).join('')
  t.ok(decodePemBundle(td, fromOpenssl).equals(bundle))
  t.ok(decodePemBundle(td, Buffer.from(fromOpenssl)).equals(bundle), 'bytes too')
  t.ok(decodePemBundle(td, fromOpenssl.replace(/\n/g, '\r\n')).equals(bundle), 'CRLF')
  const texty = `Subject: A root\n${fromOpenssl.replace('-----BEGIN', 'issuer: x\n-----BEGIN')}trailing notes\n`
  t.ok(decodePemBundle(td, texty).equals(bundle), 'text outside blocks ignored')
  t.ok(decodePemBundle(td, encodePemBundle(bundle)).equals(bundle), 'round trip')
})

t.test('bad PEM bundles are ERR_BUNDLE_INVALID', async (t) => {
  const one = encodePemBundle(
    TrustBundle.create({ trustDomain: td, x509Authorities: [cas[0]?.der as Buffer] }),
  )
  const keyPem = keyPair('ec-p256').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const bad: [string, string][] = [
    ['empty', ''],
    ['no blocks', 'hello'],
    ['a private key block', one + keyPem],
    ['unterminated', one.replace('-----END CERTIFICATE-----\n', '')],
    ['mismatched labels', one.replace('END CERTIFICATE', 'END X509 CRL')],
    ['bad base64', one.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!')],
    [
      'not a certificate inside',
      `-----BEGIN CERTIFICATE-----\n${Buffer.from('nope').toString('base64')}\n-----END CERTIFICATE-----\n`,
    ],
    ['a TRUSTED CERTIFICATE', one.replace(/CERTIFICATE/g, 'TRUSTED CERTIFICATE')],
  ]
  for (const [name, pem] of bad) t.throws(() => decodePemBundle(td, pem), INVALID, name)
  t.throws(() => decodePemBundle(td, 5 as never), TypeError)
})
