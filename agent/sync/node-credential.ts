/**
 * The evidence the agent presents for node attestation: a join token (single use) or an
 * x509pop certificate chain with its private key (reusable). Read once from the files the
 * operator configured. A credential's {@link credentialTag} (a hash, never the secret) is stored
 * next to the agent SVID, so a restarted agent can tell whether the token it holds is the one it
 * already spent.
 */
import { createHash, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { SigilError } from '../../certs/errors.js'
import { importPrivateKey, publicKeyToSpkiDer } from '../../certs/keys/keys.js'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import { pemToCertificates } from '../../certs/x509svid/pem.js'

/** Node attestation evidence. */
export type NodeCredential =
  | { readonly type: 'join_token'; readonly token: string }
  | { readonly type: 'x509pop'; readonly chainDer: readonly Buffer[]; readonly privateKey: KeyObject }

/**
 * Reads the credential the configuration names, or `undefined` when it names none. Throws
 * `ERR_CONFIG_INVALID` naming the unreadable file.
 *
 * @example
 * const credential = loadNodeCredential({ joinToken: config.joinToken })
 */
export function loadNodeCredential(opts: {
  joinToken?: string | undefined
  x509popCert?: string | undefined
  x509popKey?: string | undefined
}): NodeCredential | undefined {
  if (opts.joinToken) return { type: 'join_token', token: opts.joinToken }
  if (!opts.x509popCert || !opts.x509popKey) return undefined
  let chainDer: Buffer[]
  let privateKey: KeyObject
  try {
    chainDer = pemToCertificates(readFileSync(opts.x509popCert, 'utf8'))
    if (chainDer.length === 0) throw new Error('no certificate in the file')
    readCertificateFacts(chainDer[0]!)
  } catch (cause) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `x509pop-cert ${opts.x509popCert}: ${(cause as Error).message}`,
      {
        cause,
      },
    )
  }
  try {
    privateKey = importPrivateKey(readFileSync(opts.x509popKey))
  } catch (cause) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `x509pop-key ${opts.x509popKey}: ${(cause as Error).message}`,
      {
        cause,
      },
    )
  }
  const leafSpki = readCertificateFacts(chainDer[0]!).spkiDer
  if (!publicKeyToSpkiDer(privateKey).equals(leafSpki)) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      'x509pop-key does not belong to the first certificate of x509pop-cert',
    )
  }
  return { type: 'x509pop', chainDer, privateKey }
}

/**
 * A stable, non-secret name for a credential: `join_token:<sha256 hex>` or
 * `x509pop:<sha256 hex of the leaf DER>`.
 */
export function credentialTag(credential: NodeCredential): string {
  const hash = createHash('sha256')
  if (credential.type === 'join_token') hash.update(credential.token, 'utf8')
  else hash.update(credential.chainDer[0]!)
  return `${credential.type}:${hash.digest('hex')}`
}
