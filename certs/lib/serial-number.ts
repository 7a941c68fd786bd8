/**
 * Certificate serial numbers: 128 random bits from the OS CSPRNG, as SPIRE issues them.
 * RFC 5280 wants them positive, unique per issuer and at most 20 octets; 128 random
 * bits encode in at most 17 octets (a 0x00 is prepended when the high bit is set).
 */
import { randomFillSync } from 'node:crypto'

const SERIAL_BYTES = 16
const POOL_BYTES = 4096

/**
 * Hands out random serials from a pooled CSPRNG buffer (one `randomFillSync` per 256
 * serials; a call per serial costs several microseconds on the minting hot path).
 *
 * @example
 * const serials = new SerialNumberSource()
 * der.integer(serials.next()) // INTEGER, 1-17 octets of content
 */
export class SerialNumberSource {
  readonly #pool = Buffer.alloc(POOL_BYTES)
  #offset = POOL_BYTES

  /** A random positive serial as its minimal unsigned big-endian magnitude (a fresh Buffer). */
  next(): Buffer {
    if (this.#offset + SERIAL_BYTES > POOL_BYTES) {
      randomFillSync(this.#pool)
      this.#offset = 0
    }
    let start = this.#offset
    const end = start + SERIAL_BYTES
    this.#offset = end
    while (start < end - 1 && this.#pool[start] === 0) start++
    const magnitude = Buffer.from(this.#pool.subarray(start, end))
    if (magnitude.length === 1 && magnitude[0] === 0) magnitude[0] = 1
    return magnitude
  }
}

/** One random serial (see {@link SerialNumberSource}); for occasional use such as CA certificates. */
export function randomSerialNumber(): Buffer {
  return new SerialNumberSource().next()
}
