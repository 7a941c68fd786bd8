// Key export fast paths: PKCS#8 and SPKI built from the JWK are byte-identical to OpenSSL's
// encoders, the PKCS#8 parses with openssl, and SPKI import through the JWK gives the same key
// as OpenSSL's DER decoder (and refuses what it refuses).
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import {
  generateKeyPair,
  importPrivateKey,
  KEY_TYPES,
  privateKeyToPkcs8Der,
  publicKeyToSpkiDer,
} from '../../certs/keys/keys.js'
import { ecPkcs8Of } from '../../certs/lib/pkcs8.js'
import { publicKeyFromSpki } from '../../certs/lib/spki.js'
import { openssl } from './x509svid/openssl.js'

t.test('PKCS#8 and SPKI exports equal OpenSSL for every key type', async (t) => {
  for (const type of KEY_TYPES) {
    for (let i = 0; i < (type === 'rsa-2048' ? 2 : 20); i++) {
      const { privateKey, publicKey } = await generateKeyPair(type)
      const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' })
      const spki = publicKey.export({ type: 'spki', format: 'der' })
      t.ok(privateKeyToPkcs8Der(privateKey).equals(pkcs8), `${type} #${i} PKCS#8`)
      t.ok(publicKeyToSpkiDer(publicKey).equals(spki), `${type} #${i} SPKI of the public key`)
      t.ok(publicKeyToSpkiDer(privateKey).equals(spki), `${type} #${i} SPKI of the private key`)
      t.ok(importPrivateKey(privateKeyToPkcs8Der(privateKey)).equals(privateKey), `${type} #${i} reimports`)
    }
  }
})

t.test('openssl reads the fast PKCS#8 as the same EC key', async (t) => {
  for (const type of ['ec-p256', 'ec-p384'] as const) {
    const { privateKey, publicKey } = await generateKeyPair(type)
    const pkcs8 = ecPkcs8Of(privateKey)
    if (!pkcs8) throw new Error('EC key without a fast PKCS#8')
    const r = await openssl(['pkey', '-inform', 'DER', '-pubout', '-outform', 'DER'], pkcs8)
    t.equal(r.code, 0, `openssl pkey (${type}): ${r.stderr}`)
    t.ok(createPublicKey({ key: r.stdoutBytes, format: 'der', type: 'spki' }).equals(publicKey))
  }
})

t.test('ecPkcs8Of only takes EC P-256/P-384 private keys', async (t) => {
  const ec = await generateKeyPair('ec-p256')
  t.equal(ecPkcs8Of(ec.publicKey), undefined, 'public key')
  t.equal(ecPkcs8Of((await generateKeyPair('rsa-2048')).privateKey), undefined, 'RSA')
  t.equal(
    ecPkcs8Of(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey),
    undefined,
    'secp256k1',
  )
  t.equal(ecPkcs8Of(generateKeyPairSync('ed25519').privateKey), undefined, 'Ed25519')
})

t.test('publicKeyFromSpki: same key as the DER decoder; off-curve points refused', async (t) => {
  for (const type of KEY_TYPES) {
    const { publicKey } = await generateKeyPair(type)
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    t.ok(publicKeyFromSpki(spki).equals(publicKey), type)
  }
  const spki = (await generateKeyPair('ec-p256')).publicKey.export({ type: 'spki', format: 'der' })
  const offCurve = Buffer.from(spki)
  offCurve[offCurve.length - 1] = (offCurve[offCurve.length - 1] ?? 0) ^ 1
  t.throws(() => createPublicKey({ key: offCurve, format: 'der', type: 'spki' }), 'OpenSSL refuses it')
  t.throws(() => publicKeyFromSpki(offCurve), 'and so does the JWK path')
  t.throws(() => publicKeyFromSpki(spki.subarray(0, spki.length - 1)), 'truncated')
})
