/**
 * Key pairs for CAs, SVIDs and JWT signing, through Node's native crypto (OpenSSL).
 * Supported: EC P-256 (default), EC P-384, RSA-2048. No Ed25519: java-spiffe and
 * JWT-SVID validators reject it. Private keys travel as PKCS#8 (DER or PEM);
 * always keep {@link KeyObject}s, never re-parse PEM on a hot path.
 */
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  generateKeyPair as nodeGenerateKeyPair,
} from 'node:crypto'
import { promisify } from 'node:util'
import { SigilError } from '../errors.js'
import { ecPkcs8Of } from '../lib/pkcs8.js'
import { spkiOf } from '../lib/spki.js'

const generate = promisify(nodeGenerateKeyPair)

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048'] as const
export type KeyType = (typeof KEY_TYPES)[number]
export const DEFAULT_KEY_TYPE: KeyType = 'ec-p256'

export interface KeyPair {
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
}

/** Narrows a string to a {@link KeyType}, throwing `ERR_KEY_UNSUPPORTED` otherwise. */
export function parseKeyType(input: string): KeyType {
  if ((KEY_TYPES as readonly string[]).includes(input)) return input as KeyType
  throw new SigilError(
    'ERR_KEY_UNSUPPORTED',
    `unsupported key type "${input}" (use one of ${KEY_TYPES.join(', ')})`,
  )
}

/**
 * Generates a key pair of the given type.
 *
 * @example
 * const { privateKey, publicKey } = await generateKeyPair('ec-p256')
 */
export async function generateKeyPair(type: KeyType = DEFAULT_KEY_TYPE): Promise<KeyPair> {
  switch (type) {
    case 'ec-p256':
      return generate('ec', { namedCurve: 'prime256v1' })
    case 'ec-p384':
      return generate('ec', { namedCurve: 'secp384r1' })
    case 'rsa-2048':
      return generate('rsa', { modulusLength: 2048 })
    default:
      throw new SigilError('ERR_KEY_UNSUPPORTED', `unsupported key type "${String(type)}"`)
  }
}

/** The {@link KeyType} of a public or private key; throws `ERR_KEY_UNSUPPORTED` for anything else. */
export function keyTypeOf(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ec-p256'
    if (details?.namedCurve === 'secp384r1') return 'ec-p384'
  }
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return 'rsa-2048'
  throw new SigilError(
    'ERR_KEY_UNSUPPORTED',
    `unsupported key: ${key.asymmetricKeyType ?? 'unknown'} ${details?.namedCurve ?? details?.modulusLength ?? ''}`.trim(),
  )
}

/** PKCS#8 DER of a private key (the Workload API's `x509_svid_key` form); EC keys take a fast path. */
export function privateKeyToPkcs8Der(key: KeyObject): Buffer {
  return ecPkcs8Of(key) ?? key.export({ type: 'pkcs8', format: 'der' })
}

/** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) of a private key. */
export function privateKeyToPkcs8Pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string
}

/** SubjectPublicKeyInfo DER of a public (or private) key. */
export function publicKeyToSpkiDer(key: KeyObject): Buffer {
  try {
    return spkiOf(key)
  } catch {
    const pub = key.type === 'private' ? createPublicKey(key) : key
    return pub.export({ type: 'spki', format: 'der' })
  }
}

/**
 * Loads a private key from PKCS#8 DER or PEM (PKCS#8, SEC1 or PKCS#1 PEM are accepted on input).
 * Throws `ERR_KEY_INVALID` for unparseable input and `ERR_KEY_UNSUPPORTED` for other key types.
 */
export function importPrivateKey(input: Buffer | string): KeyObject {
  let key: KeyObject
  try {
    key =
      typeof input === 'string' || isPem(input)
        ? createPrivateKey({ key: input.toString(), format: 'pem' })
        : createPrivateKey({ key: input, format: 'der', type: 'pkcs8' })
  } catch (cause) {
    throw new SigilError('ERR_KEY_INVALID', 'private key is not valid PKCS#8 DER or PEM', { cause })
  }
  keyTypeOf(key)
  return key
}

/** Loads a public key from SPKI DER or PEM. */
export function importPublicKey(input: Buffer | string): KeyObject {
  let key: KeyObject
  try {
    key =
      typeof input === 'string' || isPem(input)
        ? createPublicKey({ key: input.toString(), format: 'pem' })
        : createPublicKey({ key: input, format: 'der', type: 'spki' })
  } catch (cause) {
    throw new SigilError('ERR_KEY_INVALID', 'public key is not valid SPKI DER or PEM', { cause })
  }
  keyTypeOf(key)
  return key
}

function isPem(b: Buffer): boolean {
  return b.subarray(0, 11).toString('latin1') === '-----BEGIN '
}
