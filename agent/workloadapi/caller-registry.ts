/**
 * Who is on each Workload API connection. The server records the kernel's peer credentials
 * (SO_PEERCRED, and a pidfd where available) when it accepts a connection, under a key that
 * grpc-js hands back to handlers as `call.getPeer()`. Attestation starts as soon as the
 * connection is accepted ({@link CallerRegistry.prefetch}), so it overlaps the client's HTTP/2
 * handshake instead of delaying its first call; calls within a short time of an attestation
 * reuse it if the process still has the same start time (a reused PID never inherits an
 * attestation), later calls attest again.
 *
 * The process behind a connection must stay the process that connected. The attestor checks
 * /proc against the connection's SO_PEERCRED uid/gid; the registry keeps the fingerprint of the
 * connection's first attestation (credentials, and the executable's device and inode) and
 * refuses every later call — `ERR_ATTESTATION_FAILED`, a warn line with the PID and why — once
 * a new attestation finds a different one: the process executed another program (a setuid
 * binary, say) or changed its credentials since. A start time or a pidfd cannot see an exec.
 * While a connection is open its process is held in the identity cache; closing the connection
 * releases the process and the pidfd.
 */
import { SigilError } from '../../certs/errors.js'
import { formatSelector } from '../../certs/selector/selector.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { processKey, sameStartTime, type WorkloadProcess } from '../cache/workload-process.js'
import type { PeerCredentials } from '../peercred/peer-credentials.js'
import { fingerprintChange, type ProcessFingerprint } from '../workloadattestation/process-fingerprint.js'

/** The costly selectors to compute (passed through to the workload attestor). */
export interface AttestationWants {
  readonly sha256?: boolean
  readonly scriptSha256?: boolean
}

/** An attested process, with what it looked like (credentials, executable) when attested. */
export interface AttestedCaller extends WorkloadProcess {
  readonly fingerprint: ProcessFingerprint
}

/** The attestor the registry calls (agent/workloadattestation's `WorkloadAttestor` fits). */
export interface CallerAttestor {
  attest(peer: PeerCredentials, want?: AttestationWants): Promise<AttestedCaller>
}

/** What the registry needs from the identity cache. */
export interface ProcessHolder {
  retain(process: WorkloadProcess): () => void
  attestationWants(): AttestationWants
}

/** How to build a {@link CallerRegistry}. */
export interface CallerRegistryOptions {
  readonly attestor: CallerAttestor
  readonly holder: ProcessHolder
  readonly procStartTime: (pid: number) => number | bigint | undefined
  readonly releasePeer: (peer: PeerCredentials) => void
  readonly logger: Pick<Log, 'debug' | 'warn'>
  /** How long an attestation is reused on one connection; default 1000 ms (0: attest every call). */
  readonly attestationTtlMs?: number
}

interface Connection {
  readonly peer: PeerCredentials
  attested?: { readonly process: WorkloadProcess; readonly at: number; readonly wants: AttestationWants }
  pending?: Promise<WorkloadProcess>
  readonly held: Map<string, () => void>
  closed: boolean
  /** The fingerprint of the connection's first attestation. */
  baseline?: ProcessFingerprint
  /** Set once the process was found changed: every later call is refused. */
  refused?: string
}

/**
 * Connections and their attested callers.
 *
 * @example
 * const key = registry.add(readPeerCredentials(socket))
 * socket.once('close', () => registry.remove(key))
 * const process = await registry.identify(call.getPeer())
 */
export class CallerRegistry {
  readonly #opts: CallerRegistryOptions
  readonly #ttlMs: number
  readonly #conns = new Map<string, Connection>()
  #next = 0

  constructor(opts: CallerRegistryOptions) {
    this.#opts = opts
    this.#ttlMs = opts.attestationTtlMs ?? 1000
  }

  /** Number of open connections. */
  get size(): number {
    return this.#conns.size
  }

  /** Records a new connection; returns its key (unique for this registry's lifetime). */
  add(peer: PeerCredentials): string {
    this.#next += 1
    const key = `sigil-workload-connection-${this.#next}`
    this.#conns.set(key, { peer, held: new Map(), closed: false })
    return key
  }

  /** Forgets a closed connection: releases its process hold and its pidfd. Idempotent. */
  remove(key: string): void {
    const conn = this.#conns.get(key)
    if (conn === undefined) return
    this.#conns.delete(key)
    conn.closed = true
    for (const release of conn.held.values()) release()
    conn.held.clear()
    this.#opts.releasePeer(conn.peer)
  }

  /** Every open connection's key. */
  keys(): string[] {
    return [...this.#conns.keys()]
  }

  /**
   * Starts attesting connection `key` now, in the background (a new connection: its first call
   * will most likely come within the reuse time). A failure is logged and left for that call to
   * retry and report.
   */
  prefetch(key: string): void {
    this.identify(key).catch(() => {})
  }

  /**
   * The attested process behind connection `key`. Throws `ERR_ATTESTATION_FAILED` for an
   * unknown connection or when attestation fails.
   */
  async identify(key: string): Promise<WorkloadProcess> {
    const conn = this.#conns.get(key)
    if (conn === undefined) throw new SigilError('ERR_ATTESTATION_FAILED', 'unknown connection')
    if (conn.refused !== undefined) {
      throw new SigilError('ERR_ATTESTATION_FAILED', `process ${conn.peer.pid}: ${conn.refused}`)
    }
    const wants = this.#opts.holder.attestationWants()
    const cached = conn.attested
    if (
      cached !== undefined &&
      performance.now() - cached.at < this.#ttlMs &&
      covers(cached.wants, wants) &&
      sameStartTime(this.#opts.procStartTime(conn.peer.pid), cached.process.startTime)
    ) {
      return cached.process
    }
    conn.pending ??= this.#attest(conn, wants).finally(() => {
      conn.pending = undefined
    })
    return conn.pending
  }

  async #attest(conn: Connection, wants: AttestationWants): Promise<WorkloadProcess> {
    try {
      return await this.#attestOnce(conn, wants)
    } catch (err) {
      const why = errorText(err)
      this.#opts.logger.warn({ pid: conn.peer.pid, why }, 'workload attestation failed; call refused')
      throw err
    }
  }

  async #attestOnce(conn: Connection, wants: AttestationWants): Promise<WorkloadProcess> {
    const result = await this.#opts.attestor.attest(conn.peer, wants)
    if (result.pid !== conn.peer.pid) {
      throw new SigilError('ERR_ATTESTATION_FAILED', 'attestation answered for another process')
    }
    if (conn.closed)
      throw new SigilError('ERR_ATTESTATION_FAILED', 'the connection closed during attestation')
    if (conn.baseline === undefined) {
      conn.baseline = result.fingerprint
    } else {
      const changed = fingerprintChange(conn.baseline, result.fingerprint)
      if (changed !== undefined) {
        conn.refused = `the process changed since it connected: ${changed}`
        conn.attested = undefined
        throw new SigilError('ERR_ATTESTATION_FAILED', `process ${result.pid}: ${conn.refused}`)
      }
    }
    const process: WorkloadProcess = {
      pid: result.pid,
      startTime: result.startTime,
      selectors: result.selectors,
    }
    const key = processKey(process)
    // Hold the new process first, then let go of any other one this connection held. Holding an
    // already held process again (and letting go at once) hands the cache its fresh selectors.
    if (!conn.held.has(key)) conn.held.set(key, this.#opts.holder.retain(process))
    else this.#opts.holder.retain(process)()
    for (const [k, release] of conn.held) {
      if (k !== key) {
        release()
        conn.held.delete(k)
      }
    }
    conn.attested = { process, at: performance.now(), wants }
    this.#opts.logger.debug(
      { pid: process.pid, selectors: process.selectors.map(formatSelector) },
      'workload attested',
    )
    return process
  }
}

function covers(have: AttestationWants, need: AttestationWants): boolean {
  return (!need.sha256 || have.sha256 === true) && (!need.scriptSha256 || have.scriptSha256 === true)
}
