/**
 * The demo's readable timeline: one line per thing worth seeing, with the time since the
 * demo started and who did it. Routine successes are condensed so the story stays readable:
 * an accepted connection is shown when a peer first connects or presents a new certificate,
 * and a pipeline task when the chain of serials changes or every tenth task; failures,
 * refusals, rotations and attempts are always shown. DEMO_VERBOSE=1 shows everything.
 */
import { type DemoEvent, type Hop, shortSerial } from './demo-event.js'

const NAME_WIDTH = 18

function clock(iso: string): string {
  return iso.slice(11, 19)
}

function chainOf(hops: readonly Hop[]): string {
  return [...hops]
    .reverse()
    .map((h) => `${h.component}[${shortSerial(h.serial)}]`)
    .join(' → ')
}

/** Renders events and the orchestrator's own lines. */
export class Timeline {
  readonly #t0: number
  readonly #verbose: boolean
  readonly #write: (line: string) => void
  /** Last certificate serial seen per (component, peer); last hop chain of the planner. */
  readonly #seenPeers = new Map<string, string>()
  #lastChain = ''

  constructor(t0: number, verbose: boolean, write: (line: string) => void) {
    this.#t0 = t0
    this.#verbose = verbose
    this.#write = write
  }

  /** A line from `component` at `t` (default now). */
  say(component: string, text: string, t = Date.now()): void {
    const offset = `+${((t - this.#t0) / 1000).toFixed(1)}s`.padStart(7)
    this.#write(`${offset}  ${component.padEnd(NAME_WIDTH)} ${text}`)
  }

  /** Shows one event (or nothing, when it is a routine success already shown). */
  event(e: DemoEvent): void {
    const text = this.#render(e)
    if (text !== undefined) this.say(e.component, text, e.t)
  }

  #render(e: DemoEvent): string | undefined {
    switch (e.kind) {
      case 'identity':
        return `got identity ${e.spiffeId}  serial ${shortSerial(e.serial)}  expires ${clock(e.expiresAt)}`
      case 'rotation':
        return `↻ rotated: serial ${shortSerial(e.previousSerial)} → ${shortSerial(e.serial)}  expires ${clock(e.expiresAt)}`
      case 'listening':
        return `listening on 127.0.0.1:${e.port}; lets in: ${e.accepts}`
      case 'accepted': {
        const key = `${e.component} ${e.layer} ${e.peer}`
        const serial = e.peerSerial ?? ''
        const seen = this.#seenPeers.get(key)
        this.#seenPeers.set(key, serial)
        if (!this.#verbose && seen === serial) return undefined
        if (e.layer === 'jwt')
          return `✓ accepted the JWT-SVID of ${e.peer} (audience tool-api, signature, expiry)`
        const fresh = seen === undefined ? 'first connection' : 'new certificate'
        return `✓ accepted mTLS from ${e.peer} [${shortSerial(serial)}] (${fresh})`
      }
      case 'refused': {
        const from = e.peer ? ` from ${e.peer}` : ''
        const what = { tls: 'TLS handshake', mtls: 'mTLS connection', jwt: 'JWT-SVID' }[e.layer]
        return `✗ refused ${what}${from}: ${e.reason} [${e.code}]`
      }
      case 'request': {
        if (!e.ok) return `✗ request to ${e.target} FAILED: ${e.detail}`
        const chain = chainOf(e.hops ?? [])
        if (e.component !== 'planner') return this.#verbose ? `✓ ${e.target}: ${chain}` : undefined
        const task = Number(/task (\d+)/.exec(e.target)?.[1] ?? 0)
        const first = this.#lastChain === ''
        const changed = !first && chain !== this.#lastChain
        this.#lastChain = chain
        if (!this.#verbose && !first && !changed && task % 10 !== 0) return undefined
        return `✓ task ${task}: ${chain}${changed ? '  ← new serial in the chain' : ''}`
      }
      case 'attempt':
        return e.refused
          ? `✓ refused as expected: ${e.name} — ${e.reason}`
          : `✗ NOT REFUSED: ${e.name} — ${e.reason}`
      case 'notice':
        return `· ${e.text}`
      case 'failure':
        return `✗ FAILURE: ${e.reason}`
    }
  }
}
