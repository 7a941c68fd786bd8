/**
 * The one DER length codec (ITU-T X.690 §8.1.3, §10.1): the writer (der.ts) and both readers
 * (der-reader.ts's `readElement` and the bundle code's `derSequenceLength`) use it, so every
 * path agrees on the form and on one cap. Lengths are definite and minimal: the short form
 * below 128, otherwise the fewest long-form octets with no leading zero. Reading refuses the
 * indefinite form, non-minimal forms and anything above {@link MAX_DER_LENGTH}.
 */

/** Largest content length we read (1 MiB); certificates, keys and CSRs are a few KiB. */
export const MAX_DER_LENGTH = 1024 * 1024

/**
 * How many octets the length `length` takes: 1 below 128, else 1 + its big-endian byte count.
 *
 * @example
 * derLengthSize(127) // 1
 * derLengthSize(128) // 2
 */
export function derLengthSize(length: number): number {
  if (length < 0x80) return 1
  let n = 1
  for (let v = length; v > 0; v = Math.floor(v / 256)) n++
  return n
}

/**
 * Writes the length octets of `length` into `out` at `at`; returns the offset after them.
 * The caller sized `out` with {@link derLengthSize}.
 *
 * @example
 * const end = writeDerLength(out, 1, content.length)
 */
export function writeDerLength(out: Uint8Array, at: number, length: number): number {
  if (length < 0x80) {
    out[at] = length
    return at + 1
  }
  const n = derLengthSize(length) - 1
  out[at] = 0x80 | n
  for (let i = n, v = length; i > 0; i--, v = Math.floor(v / 256)) out[at + i] = v % 256
  return at + 1 + n
}

/**
 * The length octets of `length` as a new Buffer; `TypeError` for a negative or unsafe number.
 *
 * @example
 * encodeDerLength(256) // <82 01 00>
 */
export function encodeDerLength(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new TypeError(`invalid DER length ${length}`)
  const out = Buffer.allocUnsafe(derLengthSize(length))
  writeDerLength(out, 0, length)
  return out
}

/**
 * Reads the length octets starting at `offset` (just after the tag), which must end before
 * `limit`. Returns the content length, or why the octets are refused. The content starts at
 * `offset + derLengthSize(length)` (minimal form is enforced, so the size follows from the length).
 * It does not check that the content itself fits.
 *
 * @example
 * const len = readDerLength(buf, at + 1, buf.length)
 * if (typeof len === 'string') fail(len)
 */
export function readDerLength(buf: Uint8Array, offset: number, limit: number): number | string {
  if (offset >= limit) return 'truncated header'
  const first = buf[offset]!
  if (!(first & 0x80)) return first
  const n = first & 0x7f
  if (n === 0) return 'indefinite length is not DER'
  if (n > derLengthSize(MAX_DER_LENGTH) - 1) return 'length too large'
  if (offset + 1 + n > limit) return 'truncated length'
  let length = 0
  for (let i = 1; i <= n; i++) length = length * 256 + buf[offset + i]!
  if (buf[offset + 1] === 0 || length < 0x80) return 'non-minimal length'
  if (length > MAX_DER_LENGTH) return 'length too large'
  return length
}

/**
 * Total length (header + content) of the DER SEQUENCE at `offset`, or a reason string when
 * the bytes there are not one definite-length SEQUENCE that fits in `der`.
 *
 * @example
 * if (derSequenceLength(der, 0) !== der.length) refuse('not exactly one DER certificate')
 */
export function derSequenceLength(der: Uint8Array, offset: number): number | string {
  if (der[offset] !== 0x30) return `expected a DER SEQUENCE at byte ${offset}`
  const length = readDerLength(der, offset + 1, der.length)
  if (typeof length === 'string') return `${length} at byte ${offset}`
  const total = 1 + derLengthSize(length) + length
  if (offset + total > der.length) return `DER element at byte ${offset} is truncated`
  return total
}
