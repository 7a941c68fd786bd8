/**
 * PEM (RFC 7468) encoding of certificates, for files, SDS and the CLI. The Workload API
 * itself carries DER. Decoding takes only `CERTIFICATE` blocks and ignores text between them.
 */
import { SigilError } from '../errors.js'
import { TAG } from '../lib/der.js'
import { readWhole } from '../lib/der-reader.js'

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \1-----/g
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * PEM text for DER certificates, one `CERTIFICATE` block each, 64-column base64.
 *
 * @example
 * writeFileSync('bundle.pem', certificatesToPem(roots))
 */
export function certificatesToPem(ders: readonly Buffer[]): string {
  let out = ''
  for (const der of ders) {
    if (!Buffer.isBuffer(der)) throw new TypeError('certificates must be DER Buffers')
    const b64 = der.toString('base64')
    out += '-----BEGIN CERTIFICATE-----\n'
    for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`
    out += '-----END CERTIFICATE-----\n'
  }
  return out
}

/**
 * The DER of every `CERTIFICATE` block in `pem`, in order. Blank input gives `[]`; other
 * input without a certificate block, bad base64, or a block that is not one DER SEQUENCE
 * throws `ERR_CERT_INVALID`.
 */
export function pemToCertificates(pem: string): Buffer[] {
  if (typeof pem !== 'string') throw new TypeError('PEM must be a string')
  const out: Buffer[] = []
  for (const m of pem.matchAll(BLOCK)) {
    if (m[1] !== 'CERTIFICATE') continue
    const body = (m[2] ?? '').replace(/\s+/g, '')
    if (!BASE64.test(body) || body.length % 4 !== 0 || body.length === 0) {
      throw new SigilError('ERR_CERT_INVALID', `PEM certificate block ${out.length + 1} is not valid base64`)
    }
    const der = Buffer.from(body, 'base64')
    readWhole(der, TAG.SEQUENCE, 'ERR_CERT_INVALID')
    out.push(der)
  }
  if (out.length === 0 && pem.trim() !== '') {
    throw new SigilError('ERR_CERT_INVALID', 'no PEM CERTIFICATE block found')
  }
  return out
}
