/**
 * `x509pop` node attestation (proof of possession of an X.509 key), as in SPIRE: the agent
 * sends its certificate chain (`payload`: each certificate's DER concatenated, leaf first);
 * the server verifies the chain to one of the operator-configured x509pop CAs
 * (`certs/x509pop/x509pop-chain.ts`), sends a random challenge and checks the agent's signature over it
 * with the leaf's key (`x509pop-proof.ts`).
 *
 * Agent ID: `spiffe://<td>/sigil/agent/x509pop/<SHA-256 of the leaf DER, lowercase hex>`, so
 * the same certificate always yields the same agent. Selectors (type `x509pop`):
 *   - `subject:cn:<common name>` — the leaf subject's CN, when it has one;
 *   - `ca:fingerprint:<SHA-256 hex>` — one per CA certificate on the verified path
 *     (intermediates and the anchor), so entries can select "any node from this CA";
 *   - `san:dns:<name>` — one per DNS SAN of the leaf;
 *   - `serialnumber:<hex>` — the leaf's serial number, lowercase hex.
 * Values with control characters are left out.
 */
import { createHash, randomBytes } from 'node:crypto'
import { SigilError } from '../../certs/errors.js'
import type { Selector } from '../../certs/selector/selector.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { parseX509popAnchors, verifyX509popChain } from '../../certs/x509pop/x509pop-chain.js'
import { verifyX509popResponse, X509POP_CHALLENGE_BYTES } from '../../certs/x509pop/x509pop-proof.js'
import type { CertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import { splitConcatenatedDer } from '../../certs/x509svid/parse-x509-svid.js'
import type { AttestationResult, ChallengeExchange, NodeAttestor } from './node-attestor.js'

/** Options for {@link X509popAttestor}. */
export interface X509popAttestorOptions {
  readonly trustDomain: TrustDomain
  /** The x509pop trust anchors (DER CA certificates); at least one. */
  readonly caCerts: readonly Buffer[]
  readonly clock: () => Date
}

/**
 * Attests agents by x509pop.
 *
 * @example
 * const attestor = new X509popAttestor({ trustDomain, caCerts: [caDer], clock: () => new Date() })
 * const { agentId, selectors } = await attestor.attest(chainBytes, (c) => askAgentToSign(c))
 */
export class X509popAttestor implements NodeAttestor {
  readonly type = 'x509pop' as const
  readonly #trustDomain: TrustDomain
  readonly #anchors: readonly CertificateFacts[]
  readonly #clock: () => Date

  /** Throws `ERR_CONFIG_INVALID` when a CA certificate is unusable. */
  constructor(opts: X509popAttestorOptions) {
    if (typeof opts?.clock !== 'function') throw new TypeError('clock must be a function')
    this.#trustDomain = opts.trustDomain
    this.#anchors = parseX509popAnchors(opts.caCerts)
    this.#clock = opts.clock
  }

  async attest(payload: Buffer, challenge: ChallengeExchange): Promise<AttestationResult> {
    if (!Buffer.isBuffer(payload)) throw new TypeError('payload must be a Buffer')
    if (payload.length === 0) {
      throw new SigilError(
        'ERR_INVALID_ARGUMENT',
        'x509pop payload is empty (expected the certificate chain)',
      )
    }
    const chain = splitConcatenatedDer(payload)
    const { leaf, issuers } = verifyX509popChain(chain, this.#anchors, this.#clock())
    const nonce = randomBytes(X509POP_CHALLENGE_BYTES)
    const response = await challenge(nonce)
    if (!verifyX509popResponse(leaf.cert.publicKey, nonce, response)) {
      throw new SigilError(
        'ERR_ATTESTATION_FAILED',
        'x509pop challenge response is not a valid signature by the certificate key',
      )
    }
    const fingerprint = sha256Hex(leaf.der)
    const agentId = SpiffeId.fromPath(this.#trustDomain, `/sigil/agent/x509pop/${fingerprint}`)
    return { agentId, selectors: x509popSelectors(leaf, issuers) }
  }
}

/** The node selectors of a verified x509pop chain (see the module comment). */
export function x509popSelectors(leaf: CertificateFacts, issuers: readonly CertificateFacts[]): Selector[] {
  const out: Selector[] = []
  const add = (value: string) => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (!/[\u0000-\u001f\u007f]/.test(value) && Buffer.byteLength(value) <= 1000)
      out.push({ type: 'x509pop', value })
  }
  const cn = commonName(leaf)
  if (cn) add(`subject:cn:${cn}`)
  for (const ca of issuers) add(`ca:fingerprint:${sha256Hex(ca.der)}`)
  for (const dns of leaf.dnsSans) if (dns) add(`san:dns:${dns}`)
  add(`serialnumber:${leaf.serialHex}`)
  return out
}

/** The subject CN as OpenSSL prints it (the last CN when there are several). */
function commonName(cert: CertificateFacts): string | undefined {
  let cn: string | undefined
  for (const line of cert.cert.subject.split('\n')) if (line.startsWith('CN=')) cn = line.slice(3)
  return cn || undefined
}

function sha256Hex(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex')
}
