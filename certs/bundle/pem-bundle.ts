/**
 * X.509 authorities as a PEM bundle (RFC 7468 `CERTIFICATE` blocks): the form operators
 * hand to `openssl`, Envoy (`trusted_ca`) and upstream-bundle files. Only the X.509 part
 * of a bundle travels this way. The tiny PEM codec here is local to bundles.
 */
import { SigilError } from '../errors.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { decodeStdBase64 } from './jwk.js'
import { TrustBundle } from './trust-bundle.js'

/** PEM bundles larger than this are refused. */
export const MAX_PEM_BUNDLE_BYTES = 4 * 1024 * 1024
const BEGIN = '-----BEGIN '
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]*?)-----END ([A-Z0-9 ]+)-----/g

/** One PEM block: `-----BEGIN <label>-----`, base64 in 64-character lines, `-----END <label>-----`. */
export function pemBlock(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64')
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/**
 * The bundle's X.509 authorities as concatenated PEM `CERTIFICATE` blocks ('' when none).
 *
 * @example
 * await writeFile(join(dir, 'bundle.pem'), encodePemBundle(bundle))
 */
export function encodePemBundle(bundle: TrustBundle): string {
  if (!(bundle instanceof TrustBundle)) throw new TypeError('bundle must be a TrustBundle')
  return bundle.x509Authorities.map((der) => pemBlock('CERTIFICATE', der)).join('')
}

/**
 * Reads a PEM bundle into a bundle holding only X.509 authorities. Text outside the
 * blocks is ignored (RFC 7468 allows explanatory text); any block other than
 * `CERTIFICATE`, an unterminated block, bad base64 or no certificate at all throws
 * `ERR_BUNDLE_INVALID`.
 *
 * @example
 * const upstream = decodePemBundle(td, await readFile('/etc/sigil/upstream.pem', 'utf8'))
 */
export function decodePemBundle(trustDomain: TrustDomain, pem: string | Uint8Array): TrustBundle {
  const fail = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_BUNDLE_INVALID', `PEM bundle: ${why}`, { cause })
  }
  if (typeof pem !== 'string' && !(pem instanceof Uint8Array)) {
    throw new TypeError('PEM bundle must be a string or a Uint8Array')
  }
  if (pem.length > MAX_PEM_BUNDLE_BYTES) fail(`larger than ${MAX_PEM_BUNDLE_BYTES} bytes`)
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('latin1')
  const certs: Buffer[] = []
  let begins = 0
  for (let at = text.indexOf(BEGIN); at !== -1; at = text.indexOf(BEGIN, at + 1)) begins++
  for (const m of text.matchAll(BLOCK)) {
    const [, label, body, endLabel] = m
    if (label !== endLabel) fail(`block "${label}" ends with "${endLabel}"`)
    if (label !== 'CERTIFICATE') fail(`unexpected block "${label}" (only CERTIFICATE is allowed)`)
    const der = decodeStdBase64((body ?? '').replace(/\s+/g, ''))
    if (der === undefined) fail(`certificate block ${certs.length} is not valid base64`)
    certs.push(der as Buffer)
  }
  if (certs.length !== begins) fail('a PEM block is malformed or unterminated')
  if (certs.length === 0) fail('no CERTIFICATE block found')
  return TrustBundle.create({ trustDomain, x509Authorities: certs })
}
