/**
 * What one caller may hold open on the Workload API, so one workload cannot starve the others:
 * connections per uid and per process (counted when the agent accepts a socket, from the
 * kernel's peer credentials), and long-lived streams per process across all its connections
 * and per uid across all its processes (a uid could otherwise fork its way past the per-process
 * limit: a held never-read stream costs the agent about 28 KB).
 * Streams per connection are bounded by HTTP/2 (SETTINGS_MAX_CONCURRENT_STREAMS, see
 * workload-api-server.ts). A process is its peer PID as the kernel reported it at connect time;
 * nothing the caller sends is used. Checks are O(1) and run before attestation, so a refused
 * request costs the agent almost nothing.
 *
 * A process that keeps opening streams past its limit is held back at HTTP/2 instead of being
 * refused stream by stream: once {@link REFUSALS_BEFORE_HOLD} of its streams were refused, each
 * of its connections is told (SETTINGS_MAX_CONCURRENT_STREAMS) to open no more streams than it
 * holds, so further streams wait in the caller's own HTTP/2 client and cost the agent nothing; a
 * stream that ends makes room for one more on its connection. Once the process holds at most
 * half its limit (and its uid is below its own limit, or at most half of it), its connections
 * get the default again. Refusals at the uid's limit count the same way, per process.
 */

/** The limits (each at least 1). */
export interface CallerLimitsOptions {
  readonly maxConnectionsPerUid: number
  readonly maxConnectionsPerProcess: number
  readonly maxStreamsPerProcess: number
  readonly maxStreamsPerUid: number
}

/** Defaults of the agent's `--max-*` options. */
export const DEFAULT_CALLER_LIMITS: CallerLimitsOptions = {
  maxConnectionsPerUid: 1024,
  maxConnectionsPerProcess: 128,
  maxStreamsPerProcess: 256,
  maxStreamsPerUid: 4096,
}

/**
 * Refused streams of a process (since it last held at most half its stream limit) after which
 * its connections are held back: enough that a client which hits its limit now and then sees
 * RESOURCE_EXHAUSTED as before; a flood of 20,000 streams costs about this many refusals.
 */
export const REFUSALS_BEFORE_HOLD = 100

/** The peer facts the limits use. */
export interface LimitedPeer {
  readonly uid: number
  readonly pid: number
}

/** Why a connection or a stream was refused: its uid or its process is at its limit. */
export type ConnectionRefusal = 'uid' | 'process'

/** How the limits act on a connection's HTTP/2 session. */
export interface CallerLimitsHooks {
  /**
   * Sets connection `key`'s SETTINGS_MAX_CONCURRENT_STREAMS to `limit` (undefined: back to the
   * default). Called only when the value changes.
   */
  readonly setStreamLimit?: (key: string, limit: number | undefined) => void
}

interface Connection {
  readonly peer: LimitedPeer
  /** Long-lived streams admitted on this connection and still open. */
  streams: number
  /** The stream limit last set on the connection; undefined: the default. */
  limit: number | undefined
}

interface Uid {
  connections: number
  streams: number
  /** Its processes that are held back. */
  readonly held: Set<Process>
}

interface Process {
  readonly uid: Uid
  readonly connections: Set<string>
  streams: number
  /** Streams refused since the process last held at most half its limit. */
  refusals: number
  held: boolean
}

/**
 * Counts connections and streams per caller.
 *
 * @example
 * const limits = new CallerLimits(DEFAULT_CALLER_LIMITS, { setStreamLimit: (key, n) => sessionOf(key).settings({ maxConcurrentStreams: n ?? 100 }) })
 * if (limits.admitConnection(key, peer) !== undefined) socket.destroy()
 * const release = limits.admitStream(key) // undefined: at the process's stream limit
 */
export class CallerLimits {
  readonly limits: CallerLimitsOptions
  readonly #hooks: CallerLimitsHooks
  readonly #connections = new Map<string, Connection>()
  readonly #uids = new Map<number, Uid>()
  readonly #processes = new Map<number, Process>()

  constructor(limits: CallerLimitsOptions, hooks: CallerLimitsHooks = {}) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a whole number ≥ 1`)
    }
    this.limits = { ...limits }
    this.#hooks = hooks
  }

  /** Records connection `key` unless its uid or process is at its limit; returns the refusal. */
  admitConnection(key: string, peer: LimitedPeer): ConnectionRefusal | undefined {
    if (this.#connections.has(key)) throw new TypeError(`connection ${key} is already counted`)
    if ((this.#uids.get(peer.uid)?.connections ?? 0) >= this.limits.maxConnectionsPerUid) return 'uid'
    const process = this.#processes.get(peer.pid)
    if ((process?.connections.size ?? 0) >= this.limits.maxConnectionsPerProcess) return 'process'
    let uid = this.#uids.get(peer.uid)
    if (uid === undefined) {
      uid = { connections: 0, streams: 0, held: new Set() }
      this.#uids.set(peer.uid, uid)
    }
    uid.connections += 1
    this.#connections.set(key, { peer, streams: 0, limit: undefined })
    if (process === undefined) {
      this.#processes.set(peer.pid, {
        uid,
        connections: new Set([key]),
        streams: 0,
        refusals: 0,
        held: false,
      })
    } else process.connections.add(key)
    return undefined
  }

  /** Forgets connection `key` (its streams release themselves). Idempotent. */
  releaseConnection(key: string): void {
    const c = this.#connections.get(key)
    if (c === undefined) return
    this.#connections.delete(key)
    const p = this.#processes.get(c.peer.pid)
    if (p === undefined) return
    p.uid.connections -= 1
    p.connections.delete(key)
    this.#forgetIfIdle(c.peer, p)
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
    const p = c === undefined ? undefined : this.#processes.get(c.peer.pid)
    if (c === undefined || p === undefined) return undefined
    const u = p.uid
    if (p.streams >= this.limits.maxStreamsPerProcess || u.streams >= this.limits.maxStreamsPerUid) {
      p.refusals += 1
      if (p.refusals >= REFUSALS_BEFORE_HOLD) this.#holdBack(p)
      return undefined
    }
    p.streams += 1
    u.streams += 1
    c.streams += 1
    let released = false
    return () => {
      if (released) return
      released = true
      p.streams -= 1
      u.streams -= 1
      c.streams -= 1
      const halfProcess = this.limits.maxStreamsPerProcess / 2
      if (u.streams <= this.limits.maxStreamsPerUid / 2) {
        for (const held of [...u.held]) if (held.streams <= halfProcess) this.#letGo(held)
      }
      if (p.streams <= halfProcess && u.streams < this.limits.maxStreamsPerUid) this.#letGo(p)
      this.#forgetIfIdle(c.peer, p)
    }
  }

  /**
   * Which limit connection `key`'s process is at (the reason of a refused stream): its own
   * first, else its uid's; undefined when neither (or the connection is unknown).
   */
  streamLimitReached(key: string): ConnectionRefusal | undefined {
    const c = this.#connections.get(key)
    const p = c === undefined ? undefined : this.#processes.get(c.peer.pid)
    if (p === undefined) return undefined
    if (p.streams >= this.limits.maxStreamsPerProcess) return 'process'
    return p.uid.streams >= this.limits.maxStreamsPerUid ? 'uid' : undefined
  }

  /** Open streams of uid `uid`. */
  streamsOfUid(uid: number): number {
    return this.#uids.get(uid)?.streams ?? 0
  }

  /** Open streams of process `pid`. */
  streamsOf(pid: number): number {
    return this.#processes.get(pid)?.streams ?? 0
  }

  /** Whether process `pid`'s connections are held back (see the module comment). */
  isHeldBack(pid: number): boolean {
    return this.#processes.get(pid)?.held === true
  }

  /** The stream limit set on connection `key` (undefined: the default). */
  streamLimitOf(key: string): number | undefined {
    return this.#connections.get(key)?.limit
  }

  /** Open connections of uid `uid`. */
  connectionsOfUid(uid: number): number {
    return this.#uids.get(uid)?.connections ?? 0
  }

  /**
   * Each connection of the process may open no more streams than it holds (a connection whose
   * streams end keeps its limit, so each ended stream makes room for one).
   */
  #holdBack(p: Process): void {
    p.held = true
    p.uid.held.add(p)
    for (const key of p.connections) {
      const c = this.#connections.get(key)
      if (c !== undefined && (c.limit === undefined || c.streams < c.limit)) this.#setLimit(key, c, c.streams)
    }
  }

  #letGo(p: Process): void {
    p.refusals = 0
    if (!p.held) return
    p.held = false
    p.uid.held.delete(p)
    for (const key of p.connections) {
      const c = this.#connections.get(key)
      if (c !== undefined && c.limit !== undefined) this.#setLimit(key, c, undefined)
    }
  }

  /** Drops the records of a process (and its uid) with no connection and no stream left. */
  #forgetIfIdle(peer: LimitedPeer, p: Process): void {
    if (p.connections.size > 0 || p.streams > 0) return
    p.uid.held.delete(p)
    if (this.#processes.get(peer.pid) === p) this.#processes.delete(peer.pid)
    if (p.uid.connections === 0 && p.uid.streams === 0 && this.#uids.get(peer.uid) === p.uid)
      this.#uids.delete(peer.uid)
  }

  #setLimit(key: string, c: Connection, limit: number | undefined): void {
    c.limit = limit
    this.#hooks.setStreamLimit?.(key, limit)
  }
}
