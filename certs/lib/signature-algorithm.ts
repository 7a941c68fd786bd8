/**
 * Certificate signature algorithms: the one allowlist Sigil signs with and accepts.
 * The hash follows the signing key (P-256 → SHA-256, P-384 → SHA-384, RSA → SHA-256
 * with PKCS#1 v1.5), as SPIRE and Go's x509 do.
 */
import type { KeyObject } from 'node:crypto'
import { keyTypeOf } from '../keys/keys.js'
import * as der from './der.js'

/** How a given key signs certificates. */
export interface SignatureAlgorithm {
  /** Short name, e.g. `ecdsa-with-SHA256`. */
  readonly name: string
  /** Node `crypto.sign` digest name. */
  readonly hash: 'sha256' | 'sha384'
  /** The DER AlgorithmIdentifier placed in `signature` and `signatureAlgorithm`. */
  readonly identifierDer: Buffer
  /** WebCrypto import parameters for the private key. */
  readonly importParams: EcKeyImportParams | RsaHashedImportParams
  /** WebCrypto signing parameters (for `@peculiar/x509`). */
  readonly signParams: { name: string; hash: string }
}

interface EcKeyImportParams {
  name: 'ECDSA'
  namedCurve: 'P-256' | 'P-384'
}
interface RsaHashedImportParams {
  name: 'RSASSA-PKCS1-v1_5'
  hash: 'SHA-256'
}

const ECDSA_SHA256 = der.sequence(der.oid('1.2.840.10045.4.3.2'))
const ECDSA_SHA384 = der.sequence(der.oid('1.2.840.10045.4.3.3'))
const ECDSA_SHA512 = der.sequence(der.oid('1.2.840.10045.4.3.4'))
const RSA_SHA256 = der.sequence(der.oid('1.2.840.113549.1.1.11'), der.nullValue())
const RSA_SHA384 = der.sequence(der.oid('1.2.840.113549.1.1.12'), der.nullValue())
const RSA_SHA512 = der.sequence(der.oid('1.2.840.113549.1.1.13'), der.nullValue())

/** A signature algorithm we accept on certificates and CSRs. */
export interface AcceptedSignatureAlgorithm {
  readonly name: string
  /** Node digest name for `crypto.verify`. */
  readonly hash: 'sha256' | 'sha384' | 'sha512'
}

/**
 * The AlgorithmIdentifier encodings (hex of the DER) accepted on certificates and CSRs we verify.
 * No SHA-1, no MD5, no RSA-PSS (nothing in SPIFFE uses it), no Ed25519 (java-spiffe lacks it).
 */
export const ACCEPTED_SIGNATURE_ALGORITHMS: ReadonlyMap<string, AcceptedSignatureAlgorithm> = new Map([
  [ECDSA_SHA256.toString('hex'), { name: 'ecdsa-with-SHA256', hash: 'sha256' }],
  [ECDSA_SHA384.toString('hex'), { name: 'ecdsa-with-SHA384', hash: 'sha384' }],
  [ECDSA_SHA512.toString('hex'), { name: 'ecdsa-with-SHA512', hash: 'sha512' }],
  [RSA_SHA256.toString('hex'), { name: 'sha256WithRSAEncryption', hash: 'sha256' }],
  [RSA_SHA384.toString('hex'), { name: 'sha384WithRSAEncryption', hash: 'sha384' }],
  [RSA_SHA512.toString('hex'), { name: 'sha512WithRSAEncryption', hash: 'sha512' }],
])

/**
 * The signature algorithm a CA key signs with; throws `ERR_KEY_UNSUPPORTED` for other keys.
 *
 * @example
 * signatureAlgorithmFor(caKey).hash // 'sha256' for a P-256 key
 */
export function signatureAlgorithmFor(signerKey: KeyObject): SignatureAlgorithm {
  switch (keyTypeOf(signerKey)) {
    case 'ec-p256':
      return {
        name: 'ecdsa-with-SHA256',
        hash: 'sha256',
        identifierDer: ECDSA_SHA256,
        importParams: { name: 'ECDSA', namedCurve: 'P-256' },
        signParams: { name: 'ECDSA', hash: 'SHA-256' },
      }
    case 'ec-p384':
      return {
        name: 'ecdsa-with-SHA384',
        hash: 'sha384',
        identifierDer: ECDSA_SHA384,
        importParams: { name: 'ECDSA', namedCurve: 'P-384' },
        signParams: { name: 'ECDSA', hash: 'SHA-384' },
      }
    case 'rsa-2048':
      return {
        name: 'sha256WithRSAEncryption',
        hash: 'sha256',
        identifierDer: RSA_SHA256,
        importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        signParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      }
  }
}
