/**
 * The x509pop proof of possession, as it travels on the AttestAgent stream: the server
 * sends {@link X509POP_CHALLENGE_BYTES} random bytes as `challenge`; the agent answers with
 * `challenge_response` = a signature, made with the private key of its x509pop leaf
 * certificate, over `X509POP_PROOF_CONTEXT || challenge` (the context string's ASCII bytes,
 * then the challenge). The context binds the signature to this use, so the key cannot be
 * tricked into signing anything else. Signature forms (Node `crypto.sign` defaults):
 * EC P-256 → ECDSA with SHA-256, DER-encoded; EC P-384 → ECDSA with SHA-384, DER-encoded;
 * RSA-2048 → RSASSA-PKCS1-v1_5 with SHA-256.
 *
 * Trust: the verifier only says whether the signature fits the key; whether the key's
 * certificate is trusted is `x509pop-chain.ts`'s question (the path builder's x509pop profile).
 */
import { type KeyObject, sign, verify } from 'node:crypto'
import { keyTypeOf } from '../keys/keys.js'

/** Length of the server's random challenge. */
export const X509POP_CHALLENGE_BYTES = 32

/** Domain-separation prefix of the signed message. */
export const X509POP_PROOF_CONTEXT = 'sigil x509pop challenge v1\n'

/** Signatures longer than this are refused unread (RSA-4096 would be 512 bytes). */
export const MAX_X509POP_SIGNATURE_BYTES = 1024

/** The bytes the agent signs for `challenge`. */
export function x509popSignedMessage(challenge: Buffer): Buffer {
  if (!Buffer.isBuffer(challenge)) throw new TypeError('challenge must be a Buffer')
  return Buffer.concat([Buffer.from(X509POP_PROOF_CONTEXT, 'ascii'), challenge])
}

function hashFor(key: KeyObject): 'sha256' | 'sha384' {
  return keyTypeOf(key) === 'ec-p384' ? 'sha384' : 'sha256'
}

/**
 * The agent's half: signs a challenge with the x509pop key.
 *
 * @example
 * stream.write({ challenge_response: signX509popChallenge(agentKey, msg.challenge) })
 */
export function signX509popChallenge(privateKey: KeyObject, challenge: Buffer): Buffer {
  if (privateKey?.type !== 'private') throw new TypeError('privateKey must be a private KeyObject')
  return sign(hashFor(privateKey), x509popSignedMessage(challenge), privateKey)
}

/**
 * The server's half: true when `signature` is a valid proof over `challenge` for `publicKey`.
 * Never throws for a bad signature (malformed input is simply `false`); throws
 * `ERR_KEY_UNSUPPORTED` for a key type Sigil does not accept.
 *
 * @example
 * if (!verifyX509popResponse(leaf.publicKey, challenge, response)) refuse()
 */
export function verifyX509popResponse(publicKey: KeyObject, challenge: Buffer, signature: Buffer): boolean {
  if (publicKey?.type !== 'public') throw new TypeError('publicKey must be a public KeyObject')
  const hash = hashFor(publicKey)
  if (!Buffer.isBuffer(signature) || signature.length === 0) return false
  if (signature.length > MAX_X509POP_SIGNATURE_BYTES) return false
  try {
    return verify(hash, x509popSignedMessage(challenge), publicKey, signature)
  } catch {
    return false
  }
}
