/**
 * A pull-style reader over the AttestAgent bidi stream: the handler asks for the next
 * message and gets it, or learns that the stream ended, was cancelled, or timed out. The
 * messages are untrusted; this file only sequences them.
 */
import { SigilError } from '../../../certs/errors.js'
import type { AttestAgentRequest__Output } from '../../../proto/generated/sigil/agent/v1/AttestAgentRequest.js'

/** The events of the server side of the stream that the reader listens to. */
export interface ReadableCall {
  on(event: 'data', listener: (msg: AttestAgentRequest__Output) => void): unknown
  on(event: 'end' | 'cancelled', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
}

/** Thrown when the client went away: nothing can be sent any more. */
export class StreamGone extends Error {
  constructor() {
    super('the client cancelled the stream')
    this.name = 'StreamGone'
  }
}

/**
 * Reads AttestAgent messages in order.
 *
 * @example
 * const reader = new AttestationStreamReader(call)
 * const first = await reader.next(deadline) // undefined when the client half-closed
 */
export class AttestationStreamReader {
  readonly #queue: AttestAgentRequest__Output[] = []
  #ended = false
  #gone = false
  #wake: (() => void) | undefined

  constructor(call: ReadableCall) {
    call.on('data', (msg) => {
      this.#queue.push(msg)
      this.#notify()
    })
    call.on('end', () => {
      this.#ended = true
      this.#notify()
    })
    call.on('cancelled', () => {
      this.#gone = true
      this.#notify()
    })
    call.on('error', () => {
      this.#gone = true
      this.#notify()
    })
  }

  /** True when a message has arrived that nobody has read yet. */
  get hasPending(): boolean {
    return this.#queue.length > 0
  }

  /** True once the client cancelled or the transport failed. */
  get gone(): boolean {
    return this.#gone
  }

  /**
   * The next message, or undefined once the client half-closed. Rejects with
   * {@link StreamGone} when the client cancelled, and `ERR_ATTESTATION_FAILED` at `deadline`.
   */
  async next(deadline: number): Promise<AttestAgentRequest__Output | undefined> {
    for (;;) {
      if (this.#gone) throw new StreamGone()
      const msg = this.#queue.shift()
      if (msg) return msg
      if (this.#ended) return undefined
      const wait = deadline - Date.now()
      if (wait <= 0)
        throw new SigilError('ERR_ATTESTATION_FAILED', 'attestation timed out waiting for the agent')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
  }

  #notify(): void {
    this.#wake?.()
  }
}
