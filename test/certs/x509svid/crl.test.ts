// CRLs checked by the real openssl: a revoked SVID fails `verify -crl_check`, an unrevoked one
// passes; the fields RFC 5280 requires are present; a CRL for every key type we sign with.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { KeyType } from '../../../certs/keys/keys.js'
import { createCrl, crlsToPem, normalizeSerial, revokedSerials } from '../../../certs/x509svid/crl.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { createTestCa } from '../../helpers/testca.js'
import { openssl } from './openssl.js'

const dir = await mkdtemp(join(tmpdir(), 'sigil-crl-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))

for (const keyType of ['ec-p256', 'ec-p384', 'rsa-2048'] as KeyType[]) {
  t.test(`${keyType}: openssl -crl_check refuses the revoked SVID and accepts the other`, async (t) => {
    const ca = await createTestCa({ keyType })
    const revoked = await ca.mintSvid('/revoked')
    const kept = await ca.mintSvid('/kept')
    const now = new Date()
    const crl = createCrl({
      issuerCertDer: ca.rootDer,
      issuerKey: ca.rootKey,
      revoked: [
        { serialHex: revoked.serialHex, revokedAt: now },
        { serialHex: 'deadbeef', revokedAt: now },
      ],
      thisUpdate: new Date(now.getTime() - 1000),
      nextUpdate: new Date(now.getTime() + 3_600_000),
      crlNumber: 42n,
    })
    const p = (n: string) => join(dir, `${keyType}-${n}`)
    await writeFile(p('ca.pem'), certificatesToPem([ca.rootDer]))
    await writeFile(p('crl.pem'), crlsToPem([crl]))
    await writeFile(p('revoked.pem'), certificatesToPem([revoked.chainDer[0]!]))
    await writeFile(p('kept.pem'), certificatesToPem([kept.chainDer[0]!]))
    const verify = (leaf: string) =>
      openssl([
        'verify',
        '-no-CApath',
        '-no-CAstore',
        '-crl_check',
        '-CAfile',
        p('ca.pem'),
        '-CRLfile',
        p('crl.pem'),
        leaf,
      ])
    const bad = await verify(p('revoked.pem'))
    t.not(bad.code, 0)
    t.match(bad.stdout + bad.stderr, /certificate revoked/)
    const good = await verify(p('kept.pem'))
    t.equal(good.code, 0, good.stdout + good.stderr)

    const text = await openssl(['crl', '-in', p('crl.pem'), '-noout', '-text'])
    t.match(text.stdout, /Version 2/)
    t.match(text.stdout, /X509v3 CRL Number: \n\s+42/)
    t.match(text.stdout, /X509v3 Authority Key Identifier/)
    t.match(text.stdout, /Next Update: /)
    t.match(text.stdout, new RegExp(`Serial Number: ${revoked.serialHex.toUpperCase()}`))
  })
}

t.test('refuses a signer that does not match, and a CA without cRLSign is not reached', async (t) => {
  const a = await createTestCa()
  const b = await createTestCa()
  const now = new Date()
  t.throws(
    () =>
      createCrl({
        issuerCertDer: a.rootDer,
        issuerKey: b.rootKey,
        revoked: [],
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + 1000),
        crlNumber: 1n,
      }),
    { code: 'ERR_KEY_INVALID' },
  )
  const leaf = await a.mintSvid('/leaf')
  t.throws(
    () =>
      createCrl({
        issuerCertDer: leaf.chainDer[0]!,
        issuerKey: leaf.privateKey,
        revoked: [],
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + 1000),
        crlNumber: 1n,
      }),
    { code: 'ERR_CERT_INVALID' },
  )
})

t.test('normalizeSerial takes the spellings operators copy', async (t) => {
  t.equal(normalizeSerial('0A:1B:2C'), '0a1b2c')
  t.throws(() => normalizeSerial('0xZZ'), { code: 'ERR_INVALID_ARGUMENT' })
})

t.test('revokedSerials reads only CRLs that verify against a given issuer and are current', async (t) => {
  const ca = await createTestCa()
  const other = await createTestCa()
  const now = new Date()
  const make = (issuerKey = ca.rootKey, nextUpdate = new Date(now.getTime() + 60_000)) =>
    createCrl({
      issuerCertDer: ca.rootDer,
      issuerKey,
      revoked: [{ serialHex: '0a1b', revokedAt: now }],
      thisUpdate: new Date(now.getTime() - 120_000),
      nextUpdate,
      crlNumber: 1n,
    })
  const good = make()
  t.same([...revokedSerials([good], [ca.rootDer], now)], ['0a1b'])
  t.same([...revokedSerials([good], [other.rootDer], now)], [], 'an issuer not given: ignored')
  const tampered = Buffer.from(good)
  tampered[tampered.indexOf(Buffer.from([0x0a, 0x1b]))] = 0x0c
  t.same([...revokedSerials([tampered], [ca.rootDer], now)], [], 'a tampered CRL revokes nothing')
  const stale = make(ca.rootKey, new Date(now.getTime() - 60_000))
  t.same([...revokedSerials([stale], [ca.rootDer], now)], [], 'past nextUpdate: ignored')
  t.same([...revokedSerials([Buffer.from('garbage')], [ca.rootDer], now)], [], 'garbage: ignored')
})
