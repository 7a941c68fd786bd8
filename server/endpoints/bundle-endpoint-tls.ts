/**
 * TLS settings of the bundle endpoint: Mozilla's "intermediate" profile (TLS 1.2+, AEAD
 * ECDHE suites; TLS 1.3 suites as Node ships them), no client certificates, and the server
 * certificate for each profile: `https_web` from operator files (or the development pair),
 * `https_spiffe` from the server's own X509-SVID.
 */
import type { KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { SecureContextOptions, TlsOptions } from 'node:tls'
import { SigilError } from '../../certs/errors.js'
import { importPrivateKey, privateKeyToPkcs8Pem, publicKeyToSpkiDer } from '../../certs/keys/keys.js'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import { certificatesToPem, pemToCertificates } from '../../certs/x509svid/pem.js'

/** TLS 1.2 cipher suites of Mozilla's intermediate profile (without finite-field DHE). */
export const INTERMEDIATE_TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')

/** The TLS options every bundle endpoint server uses, plus its certificate and key. */
export function bundleEndpointTlsOptions(pair: {
  certPem: string
  keyPem: string
}): TlsOptions & SecureContextOptions {
  return {
    minVersion: 'TLSv1.2',
    ciphers: `TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:${INTERMEDIATE_TLS12_CIPHERS}`,
    honorCipherOrder: false,
    requestCert: false,
    rejectUnauthorized: false,
    cert: pair.certPem,
    key: pair.keyPem,
  }
}

/** The server X509-SVID as the `https_spiffe` profile consumes it (e.g. `ServerIdentity`). */
export interface BundleEndpointIdentity {
  current(): { chainDer: readonly Buffer[]; privateKey: KeyObject; notAfter: Date }
  onChange(listener: () => void): void
}

/** PEM texts for the identity's current X509-SVID (leaf first, then intermediates). */
export function identityPair(identity: BundleEndpointIdentity): { certPem: string; keyPem: string } {
  const { chainDer, privateKey } = identity.current()
  return { certPem: certificatesToPem([...chainDer]), keyPem: privateKeyToPkcs8Pem(privateKey) }
}

/**
 * Reads an operator's PEM certificate chain and private key for `https_web`, checking that
 * the key belongs to the first certificate. Throws `ERR_CONFIG_INVALID` naming the file.
 */
export async function readWebPair(
  certFile: string,
  keyFile: string,
): Promise<{ certPem: string; keyPem: string; notAfter: Date }> {
  const read = async (path: string, what: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8')
    } catch (cause) {
      throw new SigilError('ERR_CONFIG_INVALID', `bundle endpoint ${what}: cannot read ${path}`, { cause })
    }
  }
  const certPem = await read(certFile, 'certificate')
  const keyPem = await read(keyFile, 'key')
  let leafSpki: Buffer
  let notAfter: Date
  try {
    const [leafDer] = pemToCertificates(certPem)
    if (!leafDer) throw new Error('no CERTIFICATE block')
    const facts = readCertificateFacts(leafDer)
    leafSpki = facts.spkiDer
    notAfter = facts.notAfter
  } catch (cause) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `bundle endpoint certificate: ${certFile} holds no valid certificate`,
      {
        cause,
      },
    )
  }
  let spki: Buffer
  try {
    spki = publicKeyToSpkiDer(importPrivateKey(keyPem))
  } catch (cause) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `bundle endpoint key: ${keyFile} holds no usable private key`,
      {
        cause,
      },
    )
  }
  if (!spki.equals(leafSpki)) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `bundle endpoint key ${keyFile} does not match the first certificate in ${certFile}`,
    )
  }
  return { certPem, keyPem, notAfter }
}
