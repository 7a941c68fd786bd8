/**
 * What one caller may hold open on the Workload API, so one workload cannot starve the others:
 * connections per uid and per process (counted when the agent accepts a socket, from the
 * kernel's peer credentials), and long-lived streams per process across all its connections.
 * Streams per connection are bounded by HTTP/2 (SETTINGS_MAX_CONCURRENT_STREAMS, see
 * workload-api-server.ts). A process is its peer PID as the kernel reported it at connect time;
 * nothing the caller sends is used. Checks are O(1) and run before attestation, so a refused
 * request costs the agent almost nothing.
 */

/** The limits (each at least 1). */
export interface CallerLimitsOptions {
  readonly maxConnectionsPerUid: number
  readonly maxConnectionsPerProcess: number
  readonly maxStreamsPerProcess: number
}

/** Defaults of the agent's `--max-*` options. */
export const DEFAULT_CALLER_LIMITS: CallerLimitsOptions = {
  maxConnectionsPerUid: 1024,
  maxConnectionsPerProcess: 128,
  maxStreamsPerProcess: 256,
}

/** The peer facts the limits use. */
export interface LimitedPeer {
  readonly uid: number
  readonly pid: number
}

/** Why a connection was refused. */
export type ConnectionRefusal = 'uid' | 'process'

interface Counted {
  readonly peer: LimitedPeer
}

/**
 * Counts connections and streams per caller.
 *
 * @example
 * const limits = new CallerLimits(DEFAULT_CALLER_LIMITS)
 * if (limits.admitConnection(key, peer) !== undefined) socket.destroy()
 * const release = limits.admitStream(key) // undefined: at the process's stream limit
 */
export class CallerLimits {
  readonly limits: CallerLimitsOptions
  readonly #connections = new Map<string, Counted>()
  readonly #perUid = new Map<number, number>()
  readonly #perPid = new Map<number, number>()
  readonly #streamsPerPid = new Map<number, number>()

  constructor(limits: CallerLimitsOptions) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a whole number ≥ 1`)
    }
    this.limits = { ...limits }
  }

  /** Records connection `key` unless its uid or process is at its limit; returns the refusal. */
  admitConnection(key: string, peer: LimitedPeer): ConnectionRefusal | undefined {
    if (this.#connections.has(key)) throw new TypeError(`connection ${key} is already counted`)
    if ((this.#perUid.get(peer.uid) ?? 0) >= this.limits.maxConnectionsPerUid) return 'uid'
    if ((this.#perPid.get(peer.pid) ?? 0) >= this.limits.maxConnectionsPerProcess) return 'process'
    this.#connections.set(key, { peer })
    bump(this.#perUid, peer.uid, 1)
    bump(this.#perPid, peer.pid, 1)
    return undefined
  }

  /** Forgets connection `key` (its streams release themselves). Idempotent. */
  releaseConnection(key: string): void {
    const c = this.#connections.get(key)
    if (c === undefined) return
    this.#connections.delete(key)
    bump(this.#perUid, c.peer.uid, -1)
    bump(this.#perPid, c.peer.pid, -1)
  }

  /** The peer of an admitted connection. */
  peerOf(key: string): LimitedPeer | undefined {
    return this.#connections.get(key)?.peer
  }

  /**
   * Counts one more long-lived stream for the process behind connection `key`; returns its
   * (idempotent) release, or undefined when the process is at its limit or the connection unknown.
   */
  admitStream(key: string): (() => void) | undefined {
    const c = this.#connections.get(key)
    if (c === undefined) return undefined
    const pid = c.peer.pid
    if ((this.#streamsPerPid.get(pid) ?? 0) >= this.limits.maxStreamsPerProcess) return undefined
    bump(this.#streamsPerPid, pid, 1)
    let released = false
    return () => {
      if (released) return
      released = true
      bump(this.#streamsPerPid, pid, -1)
    }
  }

  /** Open streams of process `pid`. */
  streamsOf(pid: number): number {
    return this.#streamsPerPid.get(pid) ?? 0
  }

  /** Open connections of uid `uid`. */
  connectionsOfUid(uid: number): number {
    return this.#perUid.get(uid) ?? 0
  }
}

function bump(map: Map<number, number>, k: number, by: number): void {
  const n = (map.get(k) ?? 0) + by
  if (n <= 0) map.delete(k)
  else map.set(k, n)
}
