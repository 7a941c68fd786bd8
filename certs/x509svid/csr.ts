/**
 * PKCS#10 certificate signing requests (RFC 2986). A CSR proves possession of a key
 * and nothing else: {@link parseCsr} verifies the self-signature and returns only the
 * public key. The SPIFFE ID, TTL and DNS names of an SVID come from the caller (the
 * registration entry), never from the CSR's subject or requested extensions.
 */
import { type KeyObject, sign, verify } from 'node:crypto'
import { SigilError } from '../errors.js'
import { type KeyPair, keyTypeOf } from '../keys/keys.js'
import { bitString, contextTag, sequence, smallInteger, TAG } from '../lib/der.js'
import { contentOf, rawOf, readChildren, readWhole } from '../lib/der-reader.js'
import { ACCEPTED_SIGNATURE_ALGORITHMS, signatureAlgorithmFor } from '../lib/signature-algorithm.js'
import { publicKeyFromSpki, spkiOf } from '../lib/spki.js'

const VERSION_0 = smallInteger(0)
const EMPTY_NAME = sequence()
const EMPTY_ATTRIBUTES = contextTag(0, true)

/**
 * Creates a PKCS#10 CSR (DER) signed by the key pair; the subject and attributes are empty.
 * Built with the DER writer and signed with Node's `crypto.sign` (the agent makes one per
 * workload SVID, so this is on the hot path).
 *
 * @example
 * const csr = await createCsr(await generateKeyPair('ec-p256'))
 */
export async function createCsr(keyPair: KeyPair): Promise<Buffer> {
  return createCsrSync(keyPair)
}

/** {@link createCsr} without the promise. */
export function createCsrSync(keyPair: KeyPair): Buffer {
  const { privateKey, publicKey } = keyPair
  if (privateKey?.type !== 'private' || publicKey?.type !== 'public') {
    throw new TypeError('createCsr needs { privateKey, publicKey } KeyObjects')
  }
  const algorithm = signatureAlgorithmFor(privateKey)
  const info = sequence(VERSION_0, EMPTY_NAME, spkiOf(publicKey), EMPTY_ATTRIBUTES)
  const signature = sign(algorithm.hash, info, { key: privateKey, dsaEncoding: 'der' })
  return sequence(info, algorithm.identifierDer, bitString(signature))
}

/**
 * Parses a DER CSR, verifies its self-signature (allowlisted algorithms only) and returns
 * only its public key. Throws `ERR_CSR_INVALID` for anything malformed or badly signed and
 * `ERR_KEY_UNSUPPORTED` for a key type Sigil does not issue for.
 *
 * @example
 * const { publicKey } = await parseCsr(request.csr)
 * minter.mint({ spiffeId: entry.spiffeId, publicKey, ttlSeconds: entry.ttl })
 */
export async function parseCsr(der: Buffer): Promise<{ publicKey: KeyObject }> {
  if (!Buffer.isBuffer(der)) throw new TypeError('CSR must be a Buffer of DER')
  const code = 'ERR_CSR_INVALID'
  const outer = readWhole(der, TAG.SEQUENCE, code)
  const [info, sigAlg, sigValue, ...extra] = readChildren(der, outer, code)
  if (!info || !sigAlg || !sigValue || extra.length > 0) {
    throw new SigilError(
      code,
      'CSR must be SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature }',
    )
  }
  if (info.tag !== TAG.SEQUENCE || sigValue.tag !== TAG.BIT_STRING) {
    throw new SigilError(code, 'CSR fields have unexpected types')
  }
  const [version, subject, spki, attributes, ...more] = readChildren(der, info, code)
  if (!version || !subject || !spki || more.length > 0 || (attributes && attributes.tag !== 0xa0)) {
    throw new SigilError(code, 'certificationRequestInfo has unexpected fields')
  }
  if (version.tag !== TAG.INTEGER || !contentOf(der, version).equals(Buffer.from([0]))) {
    throw new SigilError(code, 'CSR version must be 0 (v1)')
  }
  if (subject.tag !== TAG.SEQUENCE || spki.tag !== TAG.SEQUENCE) {
    throw new SigilError(code, 'CSR subject or public key has an unexpected type')
  }
  const algorithm = ACCEPTED_SIGNATURE_ALGORITHMS.get(rawOf(der, sigAlg).toString('hex'))
  if (!algorithm) throw new SigilError(code, 'CSR signature algorithm is not allowed')
  const bits = contentOf(der, sigValue)
  if (bits[0] !== 0) throw new SigilError(code, 'CSR signature BIT STRING has unused bits')

  let publicKey: KeyObject
  try {
    publicKey = publicKeyFromSpki(rawOf(der, spki))
  } catch (cause) {
    throw new SigilError(code, 'CSR public key is not a valid SubjectPublicKeyInfo', { cause })
  }
  keyTypeOf(publicKey)
  const ecdsa = algorithm.name.startsWith('ecdsa')
  if (ecdsa !== (publicKey.asymmetricKeyType === 'ec')) {
    throw new SigilError(code, `CSR signature algorithm ${algorithm.name} does not fit its key type`)
  }
  let ok = false
  try {
    ok = verify(
      algorithm.hash,
      rawOf(der, info),
      ecdsa ? { key: publicKey, dsaEncoding: 'der' } : publicKey,
      bits.subarray(1),
    )
  } catch (cause) {
    throw new SigilError(code, 'CSR signature could not be checked', { cause })
  }
  if (!ok) throw new SigilError(code, 'CSR signature does not verify')
  return { publicKey }
}
