/**
 * Key identifiers for the SubjectKeyIdentifier / AuthorityKeyIdentifier extensions:
 * RFC 5280 §4.2.1.2 method 1, the SHA-1 of the subjectPublicKey BIT STRING value
 * (without its unused-bits octet). Go, OpenSSL and SPIRE compute the same value.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { TAG } from './der.js'
import { contentOf, readChildren, readWhole } from './der-reader.js'

/**
 * The SHA-1 key identifier of a SubjectPublicKeyInfo (DER).
 *
 * @example
 * const ski = keyIdentifierOfSpki(publicKey.export({ type: 'spki', format: 'der' }))
 */
export function keyIdentifierOfSpki(spkiDer: Buffer): Buffer {
  const spki = readWhole(spkiDer, TAG.SEQUENCE, 'ERR_KEY_INVALID')
  const [, bits] = readChildren(spkiDer, spki, 'ERR_KEY_INVALID')
  if (!bits || bits.tag !== TAG.BIT_STRING || bits.end === bits.contentStart) {
    throw new TypeError('SubjectPublicKeyInfo has no subjectPublicKey BIT STRING')
  }
  return createHash('sha1').update(contentOf(spkiDer, bits).subarray(1)).digest()
}

/** The SHA-1 key identifier of a public key (or of a private key's public half). */
export function keyIdentifierOf(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  return keyIdentifierOfSpki(pub.export({ type: 'spki', format: 'der' }))
}
