/**
 * IP addresses in X.509 subjectAltName (RFC 5280 §4.2.1.6 iPAddress: 4 octets for IPv4,
 * 16 for IPv6, network byte order), converted from and to their text forms. Used for
 * certificates that name a listen address (e.g. the development bundle endpoint on
 * 127.0.0.1); SPIFFE X509-SVIDs themselves need no IP SAN.
 */
import { isIPv4, isIPv6 } from 'node:net'

/**
 * The iPAddress octets of an IPv4 or IPv6 address in text form, or undefined when `text` is
 * not one (zone IDs such as `fe80::1%eth0` are refused: a certificate cannot carry them).
 *
 * @example
 * ipAddressBytes('127.0.0.1') // <Buffer 7f 00 00 01>
 * ipAddressBytes('::1')?.length // 16
 */
export function ipAddressBytes(text: string): Buffer | undefined {
  if (typeof text !== 'string') return undefined
  if (isIPv4(text)) return Buffer.from(text.split('.').map(Number))
  if (!isIPv6(text) || text.includes('%')) return undefined
  let tail: number[] = []
  let head = text
  const lastColon = text.lastIndexOf(':')
  const v4 = text.slice(lastColon + 1)
  if (isIPv4(v4)) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number)
    tail = [(a << 8) | b, (c << 8) | d]
    head = text.slice(0, lastColon + 1)
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1)
  }
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const gap = head.indexOf('::')
  const before = gap === -1 ? groups(head) : groups(head.slice(0, gap))
  const after = gap === -1 ? [] : groups(head.slice(gap + 2))
  const zeros = 8 - before.length - after.length - tail.length
  const words = [...before, ...new Array<number>(gap === -1 ? 0 : zeros).fill(0), ...after, ...tail]
  if (words.length !== 8) return undefined
  const out = Buffer.alloc(16)
  for (const [i, w] of words.entries()) out.writeUInt16BE(w, i * 2)
  return out
}

/**
 * The text form of iPAddress octets: dotted quad for 4 octets, RFC 5952 form for 16; undefined
 * for any other length.
 *
 * @example
 * ipAddressText(Buffer.from([127, 0, 0, 1])) // '127.0.0.1'
 */
export function ipAddressText(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return Array.from(bytes).join('.')
  if (bytes.length !== 16) return undefined
  const buf = Buffer.from(bytes)
  const words = Array.from({ length: 8 }, (_, i) => buf.readUInt16BE(i * 2).toString(16))
  // The WHATWG URL parser writes IPv6 hosts in the RFC 5952 canonical form.
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1)
}
