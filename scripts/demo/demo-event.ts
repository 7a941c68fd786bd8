/**
 * What the demo's components tell the orchestrator: one JSON line per event on their stdout.
 * The orchestrator (run-demo.ts) turns these lines into the timeline and the final checks;
 * the components never print anything else on stdout (diagnostics go to stderr).
 */

/** One hop of a pipeline answer: which component served it and the serial it presented. */
export interface Hop {
  readonly component: string
  readonly serial: string
}

/** What happened, without the envelope. */
export type DemoEventBody =
  /** The component got its first X509-SVID from the agent. */
  | { kind: 'identity'; spiffeId: string; serial: string; expiresAt: string }
  /** The agent pushed a new X509-SVID (a new serial). */
  | { kind: 'rotation'; spiffeId: string; serial: string; previousSerial: string; expiresAt: string }
  /** An mTLS server is up; `accepts` says whom it lets in. */
  | { kind: 'listening'; port: number; accepts: string }
  /** A peer was let in: at the TLS layer (`mtls`) or by its JWT-SVID (`jwt`). */
  | { kind: 'accepted'; layer: 'mtls' | 'jwt'; peer: string; peerSerial?: string }
  /**
   * A peer was turned away, and why (`tls`: OpenSSL refused the handshake itself; `task`: its
   * task credentials, the JWT-SVID plus Txn-Token).
   */
  | { kind: 'refused'; layer: 'tls' | 'mtls' | 'jwt' | 'task'; peer?: string; code: string; reason: string }
  /** One outgoing pipeline call and its outcome (`hops`: who served it, downstream first). */
  | { kind: 'request'; ok: boolean; target: string; detail: string; hops?: readonly Hop[] }
  /** A deliberate attempt that must be refused (wrong peer, rogue); `refused` is the outcome. */
  | { kind: 'attempt'; name: string; refused: boolean; reason: string }
  /** A task (or sub-task) of the governed pipeline began or ended (`detail`: scope, outcome …). */
  | { kind: 'task'; action: 'begun' | 'ended'; run: number; taskId: string; detail: string }
  /**
   * tool-api let in a task request: who called, for which principal, through which actors
   * (current first, RFC 8693 `act`), for which task.
   */
  | { kind: 'chain'; run: number; caller: string; subject: string; actors: readonly string[]; taskId: string }
  /**
   * A task's credentials used again after its process ended it: `refused` and how long after
   * EndTask returned the first refusal came (`afterMs`), how long that refused use took
   * (`callMs`), over `tries` uses.
   */
  | {
      kind: 'replay'
      run: number
      refused: boolean
      afterMs: number
      callMs: number
      tries: number
      reason: string
    }
  /** The planner finished governed task `run` with `outcome` (`ok`: it went as planned). */
  | { kind: 'governed'; run: number; ok: boolean; outcome: string; detail: string }
  /**
   * A step of the policy scene (a call held for approval and released, a task that drifted):
   * `step` names it, `ok` says whether it went as the scene expects.
   */
  | { kind: 'policy'; step: string; ok: boolean; detail: string; taskId?: string }
  /** Something worth seeing that is not an outcome (a Workload API stream reconnecting …). */
  | { kind: 'notice'; text: string }
  /** The component cannot go on. */
  | { kind: 'failure'; reason: string }

/** An event with its envelope: when (ms since the epoch) and who. */
export type DemoEvent = DemoEventBody & { readonly t: number; readonly component: string }

/**
 * Writes one event line on stdout.
 *
 * @example
 * emit('planner', { kind: 'notice', text: 'starting' })
 */
export function emit(component: string, body: DemoEventBody): void {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), component, ...body })}\n`)
}

const KINDS = new Set([
  'identity',
  'rotation',
  'listening',
  'accepted',
  'refused',
  'request',
  'attempt',
  'task',
  'chain',
  'replay',
  'governed',
  'policy',
  'notice',
  'failure',
])

/**
 * Parses one line a component wrote; undefined for anything that is not an event.
 *
 * @example
 * parseDemoEvent('{"t":1,"component":"planner","kind":"notice","text":"hi"}')?.kind // 'notice'
 */
export function parseDemoEvent(line: string): DemoEvent | undefined {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  if (typeof v.t !== 'number' || typeof v.component !== 'string' || !KINDS.has(String(v.kind))) {
    return undefined
  }
  return v as unknown as DemoEvent
}

/** The SPIFFE ID of a demo component, e.g. `spiffe://example.org/demo/planner`. */
export function demoSpiffeId(trustDomain: string, component: string): string {
  return `spiffe://${trustDomain}/demo/${component}`
}

/** A serial number short enough for a timeline (the first 8 hex digits). */
export function shortSerial(serial: string | undefined): string {
  if (!serial) return '?'
  return serial.length > 8 ? serial.slice(0, 8) : serial
}

/** A task ID short enough for a timeline, in braces (serials are in brackets): `{6f2d8c4e}`. */
export function shortTask(id: string): string {
  return `{${id.slice(0, 8)}}`
}
