/**
 * The demo's readable timeline: one line per thing worth seeing, with the time since the
 * demo started and who did it. Routine successes are condensed so the story stays readable:
 * an accepted connection is shown when a peer first connects or presents a new certificate,
 * a pipeline task when a serial in the chain changes or every tenth task, and a governed task's
 * chain at its first request to tool-api; failures,
 * refusals, rotations and attempts are always shown. DEMO_VERBOSE=1 shows everything.
 *
 * Every line fits {@link DEMO_COLUMNS}: SPIFFE IDs of the demo's trust domain are shown by
 * their path (`/demo/planner`) except where an identity is issued, serials by their first 8
 * hex digits in brackets, and a longer text wraps under its own column ({@link Timeline.explain}
 * says so).
 */
import { type DemoEvent, type Hop, shortSerial, shortTask } from './demo-event.js'
import { DEMO_COLUMNS, wrapText } from './wrap-text.js'

const OFFSET_WIDTH = 7
const NAME_WIDTH = 18
/** Where the text of a timeline line starts: `+12.3s  planner            text`. */
const TEXT_COLUMN = OFFSET_WIDTH + 2 + NAME_WIDTH + 1

function clock(iso: string): string {
  return iso.slice(11, 19)
}

function bracket(serial: string | undefined): string {
  return `[${shortSerial(serial)}]`
}

/** The serial each hop presented, caller first; `*` marks the hops in `fresh`. */
function chainOf(hops: readonly Hop[], fresh: readonly Hop[]): string {
  return hops.map((h) => `${bracket(h.serial)}${fresh.includes(h) ? '*' : ''}`).join(' → ')
}

/** Renders events and the orchestrator's own lines. */
export class Timeline {
  readonly #t0: number
  readonly #verbose: boolean
  readonly #write: (line: string) => void
  readonly #idPrefix: string
  /** Last certificate serial seen per (component, peer); last hop serials of the planner. */
  readonly #seenPeers = new Map<string, string>()
  #lastChain: readonly Hop[] = []
  /** Tasks whose chain was shown. */
  readonly #seenTasks = new Set<string>()

  /** `trustDomain`: its SPIFFE IDs are shown by path in the timeline. */
  constructor(t0: number, verbose: boolean, write: (line: string) => void, trustDomain: string) {
    this.#t0 = t0
    this.#verbose = verbose
    this.#write = write
    this.#idPrefix = `spiffe://${trustDomain}/`
  }

  /** Says what the timeline's numbers and abbreviations mean (the demo does so first). */
  explain(): void {
    const text = [
      'How to read: +12.3s is the time since the demo started, then who speaks;',
      `/demo/planner is the SPIFFE ID ${this.#idPrefix}demo/planner;`,
      '[1a2b3c4d] is the start of an X509-SVID serial number (8 hex digits);',
      '{6f2d8c4e} is the start of a task ID (the Txn-Token\'s "txn");',
      'times such as "expires 16:08:09" are UTC.',
    ].join('\n')
    this.say('demo', text, Date.now(), true)
  }

  /**
   * A line from `component` at `t` (default now), wrapped under the text column. IDs of the
   * trust domain become paths unless `fullIds` (where an identity is announced).
   */
  say(component: string, text: string, t = Date.now(), fullIds = false): void {
    const offset = `+${((t - this.#t0) / 1000).toFixed(1)}s`.padStart(OFFSET_WIDTH)
    const shown = fullIds ? text : text.replaceAll(this.#idPrefix, '/')
    wrapText(shown, DEMO_COLUMNS - TEXT_COLUMN).forEach((piece, i) => {
      const head = i === 0 ? `${offset}  ${component.padEnd(NAME_WIDTH)} ` : ' '.repeat(TEXT_COLUMN)
      this.#write(`${head}${piece}`.trimEnd())
    })
  }

  /** Shows one event (or nothing, when it is a routine success already shown). */
  event(e: DemoEvent): void {
    const text = this.#render(e)
    if (text !== undefined) this.say(e.component, text, e.t, e.kind === 'identity')
  }

  #render(e: DemoEvent): string | undefined {
    switch (e.kind) {
      case 'identity':
        return `got identity ${e.spiffeId} ${bracket(e.serial)}`
      case 'rotation':
        return `↻ rotated: ${bracket(e.previousSerial)} → ${bracket(e.serial)}, expires ${clock(e.expiresAt)}`
      case 'listening':
        return `listening on 127.0.0.1:${e.port}; lets in: ${e.accepts}`
      case 'accepted': {
        const key = `${e.component} ${e.layer} ${e.peer}`
        const serial = e.peerSerial ?? ''
        const seen = this.#seenPeers.get(key)
        this.#seenPeers.set(key, serial)
        if (!this.#verbose && seen === serial) return undefined
        if (e.layer === 'jwt') return `✓ accepted ${e.peer}'s JWT-SVID (audience, signature, expiry)`
        const fresh = seen === undefined ? 'first connection' : 'new certificate'
        return `✓ accepted mTLS from ${e.peer} ${bracket(serial)} (${fresh})`
      }
      case 'refused': {
        const from = e.peer ? ` from ${e.peer}` : ''
        const what = {
          tls: 'TLS handshake',
          mtls: 'mTLS connection',
          jwt: 'JWT-SVID',
          task: 'task credentials',
        }[e.layer]
        return `✗ refused ${what}${from}: ${e.reason} [${e.code}]`
      }
      case 'request': {
        if (!e.ok) return `✗ request to ${e.target} FAILED: ${e.detail}`
        const hops = [...(e.hops ?? [])].reverse()
        if (e.component !== 'planner')
          return this.#verbose ? `✓ ${e.target}: ${chainOf(hops, [])}` : undefined
        const task = Number(/task (\d+)/.exec(e.target)?.[1] ?? 0)
        const first = this.#lastChain.length === 0
        const before = this.#lastChain
        this.#lastChain = hops
        const fresh = first ? [] : hops.filter((h, i) => before[i]?.serial !== h.serial)
        if (!this.#verbose && !first && fresh.length === 0 && task % 10 !== 0) return undefined
        return `✓ task ${task}: ${chainOf(hops, fresh)}`
      }
      case 'attempt':
        return e.refused
          ? `✓ refused as expected: ${e.name} — ${e.reason}`
          : `✗ NOT REFUSED: ${e.name} — ${e.reason}`
      case 'task':
        return e.action === 'begun'
          ? `▶ began task ${shortTask(e.taskId)}: ${e.detail}`
          : `■ ended task ${shortTask(e.taskId)}: ${e.detail}`
      case 'chain': {
        // The first request of a task shows its chain; the same task's next ones are routine.
        if (this.#seenTasks.has(e.taskId) && !this.#verbose) return undefined
        this.#seenTasks.add(e.taskId)
        const chain = [e.subject, ...[...e.actors].reverse()].join(' → ')
        return `✓ task request, chain ${chain} (task ${shortTask(e.taskId)})`
      }
      case 'replay':
        return e.refused
          ? `✓ ended task's credentials used again: refused ${e.afterMs} ms after EndTask returned ` +
              `(use ${e.tries}, itself ${e.callMs} ms) — ${e.reason}`
          : `✗ ended task's credentials NOT REFUSED ${e.afterMs} ms after EndTask (${e.tries} uses): ${e.reason}`
      case 'governed':
        return e.ok
          ? `✓ governed task ${e.run} ${e.outcome} as planned: ${e.detail}`
          : `✗ governed task ${e.run} went wrong (${e.outcome}): ${e.detail}`
      case 'policy':
        return `${e.ok ? '✓' : '✗'} ${e.detail}`
      case 'notice':
        return `· ${e.text}`
      case 'failure':
        return `✗ FAILURE: ${e.reason}`
    }
  }
}
