/** Internal: the length of one DER SEQUENCE, for splitting and exact-length checks. */

/** Upper bound on one certificate we accept (generous; real CA certificates are a few KiB). */
const MAX_ELEMENT_BYTES = 1024 * 1024

/**
 * Total length (header + content) of the DER SEQUENCE starting at `offset`, or a reason
 * string when the bytes there are not one definite-length SEQUENCE that fits in `der`.
 */
export function derSequenceLength(der: Uint8Array, offset: number): number | string {
  if (der[offset] !== 0x30) return `expected a DER SEQUENCE at byte ${offset}`
  const first = der[offset + 1]
  if (first === undefined) return `truncated DER header at byte ${offset}`
  let header = 2
  let length = first
  if (first & 0x80) {
    const count = first & 0x7f
    if (count === 0 || count > 4) return `unsupported DER length form at byte ${offset}`
    if (offset + 2 + count > der.length) return `truncated DER length at byte ${offset}`
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + (der[offset + 2 + i] ?? 0)
    if (length < 128 || (count > 1 && der[offset + 2] === 0))
      return `non-minimal DER length at byte ${offset}`
    header += count
  }
  if (length > MAX_ELEMENT_BYTES) return `DER element at byte ${offset} is too large`
  if (offset + header + length > der.length) return `DER element at byte ${offset} is truncated`
  return header + length
}
