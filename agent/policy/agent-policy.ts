/**
 * Agent-side policy (issue 14): the Cedar policy set pushed by the server (WatchAgentUpdates,
 * `PolicyUpdate`), compiled once per version, evaluated in-process for every Workload API call
 * (FetchX509SVID per SVID, on stream open and on each new SVID; FetchJWTSVID per identity and
 * audience) and Task API call (BeginTask, FetchTaskJWTSVID). The caller is the Workload its
 * matching entry describes plus what attestation saw (uid, executable, script path), parented by
 * this agent. A refusal is PERMISSION_DENIED naming the deciding policies; `onDenied` hears of
 * every refusal (the task manager ends the process's tasks as drifted).
 *
 * Trust: the policy comes from the server over the mutually authenticated stream; the server
 * checks every signing request again, so this check saves a round trip and keeps cached
 * credentials from being served, it is not the only line.
 */
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { CompiledPolicySet, OFF_THREAD_MIN_BYTES } from '../../common/policy/policy-engine.js'
import type { AgentFacts, TaskFacts, WorkloadFacts } from '../../common/policy/policy-entities.js'
import {
  type HoldHandler,
  holdRefused,
  type PolicyCheck,
  PolicyDeniedError,
  PolicyPoint,
} from '../../common/policy/policy-point.js'
import type { AuthorizedEntry } from '../cache/authorized-state.js'
import type { IdentitySnapshot } from '../cache/identity-subscription.js'
import { processKey, type WorkloadProcess } from '../cache/workload-process.js'

/** The pushed policy (empty text: no policy). */
export interface PolicyUpdateMessage {
  readonly version: number | string
  readonly text: string
  readonly sha256: string
}

/** How to build an {@link AgentPolicy}. */
export interface AgentPolicyOptions {
  /** The entries a process matches now (the identity cache's `entriesFor`). */
  readonly entriesFor: (process: WorkloadProcess) => readonly AuthorizedEntry[]
  /** This agent as the workloads' parent entity, once attested. */
  readonly agent: () => AgentFacts | undefined
  readonly logger: Pick<Log, 'info' | 'warn' | 'error'>
  readonly clock: () => Date
  /** Told of every refusal, with the process key (drift of its tasks). */
  readonly onDenied?: (processKey: string, reason: string) => void
  /** Holds (approvals: `approvalHold`, the caller waits); default: refused as "approval required (policy X)". */
  readonly onHold?: HoldHandler
}

/**
 * The agent's decision point.
 *
 * @example
 * const policy = new AgentPolicy({ entriesFor: (p) => cache.entriesFor(p), agent: () => facts, logger, clock })
 * policy.apply({ version: 2, text, sha256 })
 */
export class AgentPolicy {
  readonly point: PolicyPoint
  readonly #o: AgentPolicyOptions
  /** The newest pushed version (a large set compiling off-thread goes in force only if still newest). */
  #latest = 0

  constructor(opts: AgentPolicyOptions) {
    this.#o = opts
    this.point = new PolicyPoint(opts.onHold === undefined ? {} : { onHold: opts.onHold })
  }

  /**
   * Puts a pushed policy in force (compiled once per version); a text that does not compile
   * keeps the one in force. A small set is in force when this returns; a large one compiles on a
   * worker thread (the agent keeps serving with the set in force until then) and goes in force
   * when done, unless a newer push came meanwhile. Resolves when the push has been dealt with.
   */
  apply(update: PolicyUpdateMessage): Promise<void> {
    const version = Number(update.version)
    this.#latest = version
    const inForce = (): void =>
      this.#o.logger.info(
        { policy_version: version, policies: this.point.current?.policyIds.length ?? 0 },
        update.text === '' ? 'no policy in force' : 'policy in force',
      )
    const failed = (e: unknown): void =>
      this.#o.logger.error(
        { policy_version: version, err: errorText(e) },
        'pushed policy does not compile; keeping the one in force',
      )
    if (update.text === '' || Buffer.byteLength(update.text) < OFF_THREAD_MIN_BYTES) {
      try {
        if (this.point.install(version, update.text)) inForce()
      } catch (e) {
        failed(e)
      }
      return Promise.resolve()
    }
    if (version === this.point.version && this.point.current?.text === update.text) return Promise.resolve()
    return CompiledPolicySet.compileOffThread(update.text, version).then(
      (set) => {
        if (this.#latest !== version) return // a newer push came meanwhile
        if (this.point.installCompiled(set)) inForce()
      },
      (e: unknown) => {
        if (this.#latest === version) failed(e)
      },
    )
  }

  /** The workload as policy sees it: its entry plus what attestation found. */
  workloadFacts(process: WorkloadProcess, entry: AuthorizedEntry): WorkloadFacts {
    const selectors = process.selectors.map((s) => `${s.type}:${s.value}`)
    const facts: { -readonly [K in keyof WorkloadFacts]: WorkloadFacts[K] } = {
      spiffeId: entry.spiffeId,
      entryId: entry.id,
      owner: entry.owner ?? '',
      purpose: entry.purpose ?? '',
      risk: entry.risk ?? '',
      selectors: entry.selectors.map((s) => `${s.type}:${s.value}`),
    }
    for (const s of selectors) {
      if (s.startsWith('unix:uid:') && facts.uid === undefined)
        facts.uid = Number(s.slice('unix:uid:'.length))
      else if (s.startsWith('unix:path:') && facts.executable === undefined)
        facts.executable = s.slice('unix:path:'.length)
      else if (s.startsWith('proc:script:') && facts.scriptPath === undefined)
        facts.scriptPath = s.slice('proc:script:'.length)
    }
    const agent = this.#o.agent()
    if (agent !== undefined) facts.agentId = agent.spiffeId
    return facts
  }

  #check(
    process: WorkloadProcess,
    entry: AuthorizedEntry,
    rest: Omit<PolicyCheck, 'workload' | 'agent' | 'now'>,
  ): PolicyCheck {
    const agent = this.#o.agent()
    return {
      ...rest,
      workload: this.workloadFacts(process, entry),
      ...(agent === undefined ? {} : { agent }),
      now: this.#o.clock(),
    }
  }

  #denied(process: WorkloadProcess, e: unknown): void {
    if (e instanceof PolicyDeniedError) this.#o.onDenied?.(processKey(process), e.message)
  }

  /**
   * The snapshot with only the X509-SVIDs policy allows; throws `PolicyDeniedError` when it
   * allows none (the stream ends PERMISSION_DENIED). A hold is a refusal here: a stream cannot wait.
   */
  filterX509(process: WorkloadProcess, snapshot: IdentitySnapshot): IdentitySnapshot {
    if (this.point.current === undefined || snapshot.svids.length === 0) return snapshot
    const allowed = []
    let refusal: PolicyDeniedError | undefined
    for (const svid of snapshot.svids) {
      const d = this.point.decide(
        this.#check(process, svid.entry, { action: 'FetchX509SVID', resource: svid.spiffeId }),
      )
      if (d === undefined || d.decision === 'allow') allowed.push(svid)
      else refusal ??= d.decision === 'hold' ? holdRefused(d) : new PolicyDeniedError(d)
    }
    if (refusal !== undefined) this.#denied(process, refusal)
    if (allowed.length === 0 && refusal !== undefined) throw refusal
    return allowed.length === snapshot.svids.length ? snapshot : { ...snapshot, svids: allowed }
  }

  /**
   * FetchJWTSVID: every identity the call would use, for every audience; throws
   * `PolicyDeniedError`. A hold waits (`signal`: the caller went away).
   */
  async checkJwt(
    process: WorkloadProcess,
    audience: readonly string[],
    spiffeId: string | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.point.current === undefined) return
    const seen = new Set<string>()
    for (const entry of this.#o.entriesFor(process)) {
      if ((spiffeId !== undefined && entry.spiffeId !== spiffeId) || seen.has(entry.spiffeId)) continue
      seen.add(entry.spiffeId)
      for (const aud of audience) {
        try {
          await this.point.enforce(
            this.#check(process, entry, { action: 'FetchJWTSVID', resource: aud, audiences: audience }),
            signal,
          )
        } catch (e) {
          this.#denied(process, e)
          throw e
        }
      }
    }
  }

  /** BeginTask under `entry`; throws `PolicyDeniedError`. A hold waits. */
  async checkBeginTask(
    process: WorkloadProcess,
    entry: AuthorizedEntry,
    task: TaskFacts,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.point.current === undefined) return
    await this.point.enforce(
      this.#check(process, entry, {
        action: 'BeginTask',
        resource: entry.spiffeId,
        audiences: task.scope ?? [],
        task,
      }),
      signal,
    )
  }

  /** FetchTaskJWTSVID inside `task`; throws `PolicyDeniedError` (the caller drifts the task). A hold waits. */
  async checkTaskJwt(
    process: WorkloadProcess,
    entry: AuthorizedEntry,
    task: TaskFacts,
    audience: string,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.point.current === undefined) return
    await this.point.enforce(
      this.#check(process, entry, { action: 'FetchTaskJWTSVID', resource: audience, task }),
      signal,
    )
  }
}
