/**
 * A small memo of certificate facts by exact DER bytes, for a caller that reads the same CA
 * certificates over and over (every SVID chain in a signing answer ends in the same CA). Facts
 * are a pure function of the bytes, and a certificate is only ever reused for byte-identical
 * DER, so every check made on remembered facts gives what a fresh read would: no trust decision
 * changes. Remembered facts point into the buffer they were read from, so a memo should live no
 * longer than the buffers it reads (one answer, typically).
 */
import { type CertificateFacts, readCertificateFacts } from './certificate-facts.js'

/**
 * Reads certificate facts, reusing those of a byte-identical certificate read before (at most
 * `capacity` remembered, oldest forgotten first). Throws like `readCertificateFacts`; failed
 * reads are not remembered.
 *
 * @example
 * const memo = new CertificateFactsMemo()
 * for (const chain of chains) readSvidChain(chain, { caFacts: memo })
 */
export class CertificateFactsMemo {
  readonly #capacity: number
  readonly #facts: CertificateFacts[] = []

  constructor(capacity = 4) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0))
      throw new TypeError('capacity must be a positive integer')
    this.#capacity = capacity
  }

  /** The facts of `der`: remembered ones if a byte-identical certificate was read before. */
  read(der: Buffer): CertificateFacts {
    if (!Buffer.isBuffer(der)) throw new TypeError('certificate must be a Buffer of DER')
    for (const f of this.#facts) if (f.der.equals(der)) return f
    const facts = readCertificateFacts(der)
    if (this.#facts.length >= this.#capacity) this.#facts.shift()
    this.#facts.push(facts)
    return facts
  }
}
