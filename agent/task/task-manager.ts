/**
 * The agent's side of tasks (issue 13): forwards an attested process's BeginTask /
 * FetchTaskJWTSVID / EndTask to the server with the entry the process was attested for and
 * its identity (`pid:startTime`), and ends tasks itself: `process_exited` when the process
 * exits (the identity cache's exit detection, which watches every held process) and `expired`
 * at the deadline. Each process may hold at most {@link DEFAULT_MAX_OPEN_TASKS_PER_PROCESS}
 * open tasks here (`ERR_RESOURCE_EXHAUSTED` beyond).
 *
 * Trust: the server decides whether the entry may begin the task and checks that only the
 * process that began a task uses or ends it (by the process key this agent attested); the agent
 * never lets a caller name its own process or entry.
 */
import { SigilError } from '../../certs/errors.js'
import { codedErrorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import type { TaskFacts } from '../../common/policy/policy-entities.js'
import type { BeginTaskRequest } from '../../proto/generated/sigil/agent/v1/BeginTaskRequest.js'
import type { BeginTaskResponse__Output } from '../../proto/generated/sigil/agent/v1/BeginTaskResponse.js'
import type { EndTaskRequest } from '../../proto/generated/sigil/agent/v1/EndTaskRequest.js'
import type { EndTaskResponse__Output } from '../../proto/generated/sigil/agent/v1/EndTaskResponse.js'
import type { FetchTaskJwtSvidRequest } from '../../proto/generated/sigil/agent/v1/FetchTaskJwtSvidRequest.js'
import type { FetchTaskJwtSvidResponse__Output } from '../../proto/generated/sigil/agent/v1/FetchTaskJwtSvidResponse.js'
import type { AuthorizedEntry } from '../cache/authorized-state.js'
import { processKey, type WorkloadProcess } from '../cache/workload-process.js'

/** Open tasks one process may hold at once. */
export const DEFAULT_MAX_OPEN_TASKS_PER_PROCESS = 64
/** Outcomes a process may report. */
const PROCESS_OUTCOMES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled'])
/** Longest timer Node keeps exactly (about 24.8 days); later deadlines are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The server calls the manager makes (agent/sync's `ServerClient` fits). */
export interface TaskServer {
  beginTask(req: BeginTaskRequest): Promise<BeginTaskResponse__Output>
  fetchTaskJwtSvid(req: FetchTaskJwtSvidRequest): Promise<FetchTaskJwtSvidResponse__Output>
  endTask(req: EndTaskRequest): Promise<EndTaskResponse__Output>
}

/** What the manager needs from the identity cache (`WorkloadIdentityCache` fits). */
export interface TaskProcesses {
  entriesFor(process: WorkloadProcess): readonly AuthorizedEntry[]
  retain(process: WorkloadProcess): () => void
  onProcessExit(listener: (processKey: string) => void): () => void
}

/** Agent-side policy on Task API calls (agent/policy/agent-policy.ts fits); each throws to refuse. */
export interface TaskPolicy {
  checkBeginTask(
    process: WorkloadProcess,
    entry: AuthorizedEntry,
    task: TaskFacts,
    signal?: AbortSignal,
  ): Promise<void>
  checkTaskJwt(
    process: WorkloadProcess,
    entry: AuthorizedEntry,
    task: TaskFacts,
    audience: string,
    signal?: AbortSignal,
  ): Promise<void>
}

/** How to build a {@link TaskManager}. */
export interface TaskManagerOptions {
  readonly server: () => TaskServer
  readonly processes: TaskProcesses
  readonly logger: Log
  readonly clock?: () => Date
  readonly maxOpenTasksPerProcess?: number
  /** Policy (issue 14): a refused FetchTaskJWTSVID ends the task as drifted. */
  readonly policy?: TaskPolicy
}

/** What a process asks for. */
export interface BeginTaskParams {
  readonly purpose: string
  readonly scope: readonly string[]
  readonly ttlSeconds: number
  readonly onBehalfOf: string
  readonly parentTxnToken: string
  /** Which of the process's SPIFFE IDs; `''` for its first. */
  readonly spiffeId: string
}

interface OpenTask {
  readonly id: string
  readonly processKey: string
  readonly release: () => void
  timer: NodeJS.Timeout | undefined
  /** The entry it was begun under and what policy sees of it. */
  readonly entry: AuthorizedEntry
  readonly facts: TaskFacts
}

/**
 * Tasks of this agent's processes.
 *
 * @example
 * const tasks = new TaskManager({ server: () => serverClient, processes: cache, logger })
 * const begun = await tasks.begin(process, { purpose: 'report', scope: [aud], ttlSeconds: 60, onBehalfOf: '', parentTxnToken: '', spiffeId: '' })
 */
export class TaskManager {
  readonly #o: TaskManagerOptions
  readonly #clock: () => Date
  readonly #max: number
  readonly #tasks = new Map<string, OpenTask>()
  /** Open (and being begun) tasks per process key. */
  readonly #perProcess = new Map<string, number>()
  readonly #unsubscribe: () => void
  #closed = false

  constructor(opts: TaskManagerOptions) {
    this.#o = opts
    this.#clock = opts.clock ?? (() => new Date())
    this.#max = opts.maxOpenTasksPerProcess ?? DEFAULT_MAX_OPEN_TASKS_PER_PROCESS
    if (!Number.isSafeInteger(this.#max) || this.#max < 1) {
      throw new TypeError('maxOpenTasksPerProcess must be a whole number >= 1')
    }
    this.#unsubscribe = opts.processes.onProcessExit((key) => void this.#processExited(key))
  }

  /** Open tasks held here. */
  get size(): number {
    return this.#tasks.size
  }

  /** Begins a task for `process` under the entry of the SPIFFE ID it asks for (else its first). */
  async begin(
    process: WorkloadProcess,
    p: BeginTaskParams,
    signal?: AbortSignal,
  ): Promise<BeginTaskResponse__Output> {
    const key = processKey(process)
    const entries = this.#o.processes.entriesFor(process)
    const entry = p.spiffeId === '' ? entries[0] : entries.find((e) => e.spiffeId === p.spiffeId)
    if (entry === undefined) {
      throw new SigilError(
        'ERR_NOT_AUTHORIZED',
        p.spiffeId === '' ? 'no identity issued' : `no identity issued for ${p.spiffeId.slice(0, 256)}`,
      )
    }
    const open = this.#perProcess.get(key) ?? 0
    if (open >= this.#max) {
      throw new SigilError(
        'ERR_RESOURCE_EXHAUSTED',
        `too many open tasks for this process (at most ${this.#max})`,
      )
    }
    this.#perProcess.set(key, open + 1)
    let res: BeginTaskResponse__Output
    try {
      await this.#o.policy?.checkBeginTask(
        process,
        entry,
        {
          id: '',
          purpose: p.purpose,
          scope: p.scope,
          // 0: the entry's max task TTL, which the agent does not know; the server checks the real one
          deadline: new Date(this.#clock().getTime() + (p.ttlSeconds || 3600) * 1000),
        },
        signal,
      )
      res = await this.#o.server().beginTask({
        entry_id: entry.id,
        process_key: key,
        purpose: p.purpose,
        scope: [...p.scope],
        ttl_seconds: p.ttlSeconds,
        on_behalf_of: p.onBehalfOf,
        parent_txn_token: p.parentTxnToken,
      })
    } catch (e) {
      this.#releaseSlot(key)
      throw e
    }
    const task: OpenTask = {
      id: res.task_id,
      processKey: key,
      release: this.#o.processes.retain(process),
      timer: undefined,
      entry,
      facts: {
        id: res.task_id,
        purpose: p.purpose,
        scope: [...p.scope],
        deadline: new Date(Number(res.expires_at) * 1000),
      },
    }
    this.#tasks.set(task.id, task)
    this.#arm(task, res.expires_at * 1000)
    this.#o.logger.info({ task_id: task.id, pid: process.pid, spiffe_id: res.spiffe_id }, 'task begun')
    return res
  }

  /** A task JWT-SVID for `process` (the server checks that the task is this process's). */
  async fetchJwtSvid(
    process: WorkloadProcess,
    taskId: string,
    audience: string,
    signal?: AbortSignal,
  ): Promise<FetchTaskJwtSvidResponse__Output> {
    if (!taskId) throw new SigilError('ERR_INVALID_ARGUMENT', 'task_id is empty')
    if (!audience) throw new SigilError('ERR_INVALID_ARGUMENT', 'audience is empty')
    // The entries the process holds now: one that exec'd since keeps its pid and start time, not its identity.
    const entryIds = this.#o.processes.entriesFor(process).map((e) => e.id)
    const open = this.#tasks.get(taskId)
    if (open !== undefined && open.processKey === processKey(process) && this.#o.policy !== undefined) {
      try {
        await this.#o.policy.checkTaskJwt(process, open.entry, open.facts, audience, signal)
      } catch (e) {
        if (!(e instanceof SigilError) || e.code !== 'ERR_NOT_AUTHORIZED' || signal?.aborted) throw e
        await this.#drift(open, `aud=${audience.slice(0, 256)}: ${e.message}`)
        throw new SigilError('ERR_NOT_AUTHORIZED', `${e.message}; the task has drifted and was ended`, {
          cause: e,
        })
      }
    }
    return this.#o.server().fetchTaskJwtSvid({
      task_id: taskId,
      audience,
      process_key: processKey(process),
      entry_ids: entryIds,
    })
  }

  /** Ends a task for the process that began it. */
  async end(process: WorkloadProcess, taskId: string, outcome: string): Promise<string> {
    if (!taskId) throw new SigilError('ERR_INVALID_ARGUMENT', 'task_id is empty')
    if (!PROCESS_OUTCOMES.has(outcome)) {
      throw new SigilError('ERR_INVALID_ARGUMENT', 'outcome must be completed, failed or cancelled')
    }
    const res = await this.#o.server().endTask({ task_id: taskId, outcome, process_key: processKey(process) })
    this.#forget(taskId)
    return res.outcome
  }

  /**
   * Drift of every open task of a process (its call was refused by policy): each ends `drifted`
   * with `reason`, and the server revokes its credentials.
   */
  async driftProcess(key: string, reason: string): Promise<void> {
    for (const task of [...this.#tasks.values()]) if (task.processKey === key) await this.#drift(task, reason)
  }

  async #drift(task: OpenTask, reason: string): Promise<void> {
    if (!this.#tasks.has(task.id)) return
    this.#forget(task.id)
    const why = Buffer.from(reason)
      .subarray(0, 500)
      .toString('utf8')
      .replace(/\uFFFD$/, '')
    try {
      await this.#o.server().endTask({ task_id: task.id, outcome: 'drifted', process_key: '', reason: why })
      this.#o.logger.warn({ task_id: task.id, reason: why }, 'task drifted; ended by the agent')
    } catch (e) {
      this.#o.logger.warn({ task_id: task.id, err: codedErrorText(e) }, 'could not end drifted task')
    }
  }

  /** Stops the timers and the exit watch (open tasks stay open on the server until their deadline). */
  close(): void {
    this.#closed = true
    this.#unsubscribe()
    for (const task of this.#tasks.values()) {
      clearTimeout(task.timer)
      task.release()
    }
    this.#tasks.clear()
    this.#perProcess.clear()
  }

  #arm(task: OpenTask, deadlineMs: number): void {
    const delay = Math.max(0, deadlineMs - this.#clock().getTime())
    task.timer = setTimeout(
      () => {
        if (delay >= MAX_TIMER_MS) this.#arm(task, deadlineMs)
        else void this.#endByAgent(task, 'expired')
      },
      Math.min(delay, MAX_TIMER_MS),
    )
    task.timer.unref()
  }

  async #processExited(key: string): Promise<void> {
    for (const task of [...this.#tasks.values()])
      if (task.processKey === key) await this.#endByAgent(task, 'process_exited')
  }

  async #endByAgent(task: OpenTask, outcome: 'expired' | 'process_exited'): Promise<void> {
    if (this.#closed || !this.#tasks.has(task.id)) return
    this.#forget(task.id)
    try {
      await this.#o.server().endTask({ task_id: task.id, outcome, process_key: '' })
      this.#o.logger.info({ task_id: task.id, outcome }, 'task ended by the agent')
    } catch (e) {
      // Already ended (by the process or an operator) is fine; anything else: the server's sweep expires it.
      const level =
        e instanceof SigilError && (e.code === 'ERR_TASK_ENDED' || e.code === 'ERR_NOT_FOUND')
          ? 'debug'
          : 'warn'
      this.#o.logger[level]({ task_id: task.id, outcome, err: codedErrorText(e) }, 'could not end task')
    }
  }

  #forget(taskId: string): void {
    const task = this.#tasks.get(taskId)
    if (task === undefined) return
    this.#tasks.delete(taskId)
    clearTimeout(task.timer)
    this.#releaseSlot(task.processKey)
    task.release()
  }

  #releaseSlot(key: string): void {
    const n = (this.#perProcess.get(key) ?? 1) - 1
    if (n <= 0) this.#perProcess.delete(key)
    else this.#perProcess.set(key, n)
  }
}
