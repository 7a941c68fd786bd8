/**
 * X509-SVID issuance, the hot path. One minter per signing CA: the constructor checks
 * the CA (certificate and key match, CA=true with keyCertSign, a `spiffe://<td>` URI
 * SAN), builds the leaf template once and proves it by minting and checking a probe
 * leaf; `mint` then only fills in the per-SVID fields and signs with Node's native
 * `crypto.sign` (OpenSSL). The caller decides who gets which SPIFFE ID; the minter
 * checks only that the request is well formed and inside the CA's trust domain.
 *
 * Validation of what is minted: the leaves minted here are not each run through the path
 * builder (`certs/x509path/`); that would double the cost of the hot workload path. Instead the
 * per-CA template self-test proves, once per CA, that the template yields leaves that pass the
 * SVID rules and the CA's signature, and only per-SVID fields vary after it. The server's own
 * and agents' SVIDs, and every CA certificate, are validated by the path builder when minted
 * (server/ca: `signX509Svid({ validate: true })`, `verifyX509Ca`).
 */
import { createPublicKey, type KeyObject, sign } from 'node:crypto'
import { SigilError } from '../errors.js'
import { keyTypeOf } from '../keys/keys.js'
import * as der from '../lib/der.js'
import { keyIdentifierOfSpki } from '../lib/key-identifier.js'
import { SerialNumberSource } from '../lib/serial-number.js'
import { type SignatureAlgorithm, signatureAlgorithmFor } from '../lib/signature-algorithm.js'
import { spkiOf } from '../lib/spki.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { KEY_USAGE, readCertificateFacts } from './certificate-facts.js'
import { dnsNameProblem } from './dns-name.js'
import { ipAddressBytes } from './ip-address.js'
import { LeafTemplate } from './leaf-template.js'
import { readSvidChain } from './parse-x509-svid.js'

/** Backdating of NotBefore, for clock skew between issuer and relying parties (as SPIRE does). */
export const NOT_BEFORE_BACKDATE_MS = 10_000

/** Options for {@link X509SvidMinter}. */
export interface X509SvidMinterOptions {
  /** The signing CA's certificate (DER). */
  readonly caCertDer: Buffer
  /** The signing CA's private key. */
  readonly caKey: KeyObject
  /** Certificates above the CA up to, but not including, the root; appended to every chain. */
  readonly intermediatesDer?: readonly Buffer[]
}

/** What to put in one X509-SVID. */
export interface MintX509SvidOptions {
  /** Must have a path and belong to the CA's trust domain. */
  readonly spiffeId: SpiffeId
  /** The workload's public key (e.g. from parseCsr). */
  readonly publicKey: KeyObject
  /** Requested lifetime; NotAfter is capped at the CA's NotAfter. */
  readonly ttlSeconds: number
  /** Extra DNS SANs; the first (if at most 64 characters) also becomes the subject CN. */
  readonly dnsNames?: readonly string[]
  /** IP address SANs (`127.0.0.1`, `::1`), after the DNS names; for certificates that name a listen address. */
  readonly ipAddresses?: readonly string[]
  readonly now?: Date
}

/** A freshly minted X509-SVID. */
export interface MintedX509Svid {
  readonly spiffeId: SpiffeId
  readonly certDer: Buffer
  /** Leaf, then the CA if it is not a self-signed root, then the intermediates (never the root). */
  readonly chainDer: readonly Buffer[]
  /** Lowercase hex of the serial number's minimal positive encoding. */
  readonly serialHex: string
  readonly notBefore: Date
  readonly notAfter: Date
}

/**
 * Mints X509-SVID leaves for one signing CA.
 *
 * @example
 * const minter = new X509SvidMinter({ caCertDer, caKey })
 * const svid = minter.mint({ spiffeId: SpiffeId.parse('spiffe://example.org/web'), publicKey, ttlSeconds: 3600 })
 */
export class X509SvidMinter {
  /** The trust domain of the CA (from its URI SAN). */
  readonly trustDomain: TrustDomain
  /** The CA's NotAfter; no SVID outlives it. */
  readonly caNotAfter: Date
  readonly #caKey: KeyObject
  readonly #algorithm: SignatureAlgorithm
  readonly #template: LeafTemplate
  readonly #chainTail: readonly Buffer[]
  readonly #serials = new SerialNumberSource()

  constructor(opts: X509SvidMinterOptions) {
    const { caCertDer, caKey } = opts
    const intermediates = opts.intermediatesDer ?? []
    if (!Buffer.isBuffer(caCertDer)) throw new TypeError('caCertDer must be a Buffer')
    if (caKey?.type !== 'private') throw new TypeError('caKey must be a private KeyObject')
    if (!Array.isArray(intermediates) || !intermediates.every((b) => Buffer.isBuffer(b))) {
      throw new TypeError('intermediatesDer must be an array of Buffers')
    }
    const ca = readCertificateFacts(caCertDer)
    if (!ca.isCa || !((ca.keyUsage ?? 0) & KEY_USAGE.keyCertSign)) {
      throw new SigilError('ERR_CERT_INVALID', 'signing certificate is not a CA with keyCertSign')
    }
    const [caUri, ...moreUris] = ca.uriSans
    const caId = caUri === undefined || moreUris.length ? undefined : tryParseId(caUri)
    if (!caId?.isTrustDomainId()) {
      throw new SigilError(
        'ERR_CERT_INVALID',
        'signing CA must carry exactly one URI SAN spiffe://<trust domain>',
      )
    }
    if (!createPublicKey(caKey).export({ type: 'spki', format: 'der' }).equals(ca.spkiDer)) {
      throw new SigilError('ERR_KEY_INVALID', "caKey does not match the CA certificate's public key")
    }
    const selfSigned = ca.subjectRaw.equals(ca.issuerRaw) && ca.cert.verify(ca.cert.publicKey)
    if (selfSigned && intermediates.length > 0) {
      throw new SigilError('ERR_INVALID_ARGUMENT', 'a self-signed root CA cannot have intermediates above it')
    }
    // Each intermediate must be a CA that issued the certificate below it.
    let below = ca
    for (const [i, der] of intermediates.entries()) {
      const f = readCertificateFacts(der)
      if (!f.isCa || !((f.keyUsage ?? 0) & KEY_USAGE.keyCertSign)) {
        throw new SigilError('ERR_CERT_INVALID', `intermediate ${i} is not a CA with keyCertSign`)
      }
      if (!below.issuerRaw.equals(f.subjectRaw) || !below.cert.verify(f.cert.publicKey)) {
        throw new SigilError('ERR_CERT_INVALID', `intermediate ${i} did not issue the certificate before it`)
      }
      below = f
    }
    this.trustDomain = caId.trustDomain
    this.caNotAfter = ca.notAfter
    this.#caKey = caKey
    this.#algorithm = signatureAlgorithmFor(caKey)
    this.#template = new LeafTemplate({
      signatureAlgorithmDer: this.#algorithm.identifierDer,
      issuerName: ca.subjectRaw,
      authorityKeyId: ca.subjectKeyId ?? keyIdentifierOfSpki(ca.spkiDer),
    })
    this.#chainTail = selfSigned ? [...intermediates] : [caCertDer, ...intermediates]
    this.#selfTest(ca.notBefore, ca.cert.publicKey)
  }

  /**
   * Mints one X509-SVID. Throws `ERR_SPIFFE_ID_INVALID` (no path), `ERR_TRUST_DOMAIN_MISMATCH`,
   * `ERR_INVALID_ARGUMENT` (TTL, DNS names, IP addresses), `ERR_KEY_UNSUPPORTED`, or `ERR_UNAVAILABLE` when
   * the CA has expired at `now`.
   */
  mint(opts: MintX509SvidOptions): MintedX509Svid {
    const { spiffeId, publicKey, ttlSeconds } = opts
    const dnsNames = opts.dnsNames ?? []
    const ipTexts = opts.ipAddresses ?? []
    const now = opts.now ?? new Date()
    if (!(spiffeId instanceof SpiffeId)) throw new TypeError('spiffeId must be a SpiffeId')
    if (publicKey?.type !== 'public') throw new TypeError('publicKey must be a public KeyObject')
    if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('now must be a valid Date')
    if (!Array.isArray(dnsNames)) throw new TypeError('dnsNames must be an array of strings')
    if (!Array.isArray(ipTexts)) throw new TypeError('ipAddresses must be an array of strings')
    if (spiffeId.isTrustDomainId()) {
      throw new SigilError('ERR_SPIFFE_ID_INVALID', `X509-SVID ID "${spiffeId}" needs a path`)
    }
    if (!spiffeId.memberOf(this.trustDomain)) {
      throw new SigilError(
        'ERR_TRUST_DOMAIN_MISMATCH',
        `SPIFFE ID "${spiffeId}" is not in the CA's trust domain "${this.trustDomain.name}"`,
      )
    }
    if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new SigilError('ERR_INVALID_ARGUMENT', `ttlSeconds must be a positive number, got ${ttlSeconds}`)
    }
    for (const name of dnsNames) {
      const why = dnsNameProblem(name)
      if (why) throw new SigilError('ERR_INVALID_ARGUMENT', `invalid DNS name "${String(name)}": ${why}`)
    }
    const ipAddresses = ipTexts.map((text) => {
      const bytes = ipAddressBytes(text)
      if (!bytes) throw new SigilError('ERR_INVALID_ARGUMENT', `invalid IP address "${String(text)}"`)
      return bytes
    })
    keyTypeOf(publicKey)
    const nowMs = now.getTime()
    if (nowMs >= this.caNotAfter.getTime()) {
      throw new SigilError('ERR_UNAVAILABLE', `signing CA expired at ${this.caNotAfter.toISOString()}`)
    }
    const notBefore = new Date(floorToSecond(nowMs - NOT_BEFORE_BACKDATE_MS))
    const notAfter = new Date(floorToSecond(Math.min(nowMs + ttlSeconds * 1000, this.caNotAfter.getTime())))
    const spki = spkiOf(publicKey)
    const serial = this.#serials.next()
    const tbs = this.#template.tbs({
      serial,
      notBefore,
      notAfter,
      spki,
      subjectKeyId: keyIdentifierOfSpki(spki),
      uri: spiffeId.toString(),
      dnsNames,
      ipAddresses,
    })
    const signature = sign(this.#algorithm.hash, tbs, { key: this.#caKey, dsaEncoding: 'der' })
    const certDer = der.sequence(tbs, this.#algorithm.identifierDer, der.bitString(signature))
    return {
      spiffeId,
      certDer,
      chainDer: [certDer, ...this.#chainTail],
      serialHex: serial.toString('hex'),
      notBefore,
      notAfter,
    }
  }

  /**
   * Mints a probe leaf and checks it with the SVID rules and the CA's key: a broken template fails
   * here. This per-CA self-test stands in for validating each workload leaf (see the module comment).
   */
  #selfTest(caNotBefore: Date, caPublicKey: KeyObject): void {
    const spiffeId = SpiffeId.fromPath(this.trustDomain, '/sigil/template-probe')
    const probe = this.mint({
      spiffeId,
      publicKey: caPublicKey,
      ttlSeconds: 1,
      dnsNames: ['probe.invalid'],
      now: new Date(
        Math.min(caNotBefore.getTime() + NOT_BEFORE_BACKDATE_MS, this.caNotAfter.getTime() - 1000),
      ),
    })
    const { spiffeId: parsed, facts } = readSvidChain(probe.chainDer)
    if (!parsed.equals(spiffeId) || !facts[0]!.cert.verify(caPublicKey)) {
      throw new Error('internal: X509-SVID template self-test failed')
    }
  }
}

function tryParseId(uri: string): SpiffeId | undefined {
  try {
    return SpiffeId.parse(uri)
  } catch {
    return undefined
  }
}

function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000
}
