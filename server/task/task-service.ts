/**
 * The server's task decisions (issue 13): who may begin a task, which credentials a task may
 * get, and how it ends. The agent API's BeginTask/FetchTaskJwtSvid/EndTask and the admin
 * API's task verbs call this; the agent only forwards what it attested.
 *
 * Rules: a task is begun under one registration entry the agent may serve; the entry must have
 * task scopes, every requested scope value must be one of them, the TTL at most the entry's
 * max task TTL (0: {@link DEFAULT_MAX_TASK_TTL_SECONDS}); a delegation token must verify
 * (`delegation.ts`), and a sub-task never widens its parent's scope or outlives it. Task
 * JWT-SVIDs go only to the agent and process that began the task, only for an audience in
 * its scope, and expire by its deadline. Every decision is recorded: in the task's event trail
 * when the task exists, else in the log. Ending a task runs the `onTaskEnded` listeners with
 * every credential issued for it (revocation hooks in there).
 */
import { randomUUID } from 'node:crypto'
import { SigilError } from '../../certs/errors.js'
import type { MintedJwtSvid } from '../../certs/jwtsvid/jwt-svid-signer.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { MintedTxnToken } from '../../certs/txntoken/sign-txn-token.js'
import { errorText } from '../../common/errors/error-text.js'
import type { IssuedSvidRecord, RegistrationEntry, TaskOutcome, TaskRecord } from '../datastore/datastore.js'
import { type Delegation, resolveDelegation } from './delegation.js'
import {
  AGENT_OUTCOMES,
  checkBeginRequest,
  invalid,
  MAX_END_REASON_BYTES,
  notAuthorized,
  PROCESS_OUTCOMES,
} from './task-rules.js'
import type {
  BeginTaskInput,
  TaskCaller,
  TaskEndedListener,
  TaskServiceOptions,
} from './task-service-options.js'

/** What a task event's audit record says besides the task (see `#event`). */
interface TaskEventAbout {
  readonly spiffeId?: string
  readonly serialOrJti?: string
  readonly agentId?: string
  readonly details?: Record<string, unknown>
}

export { DEFAULT_MAX_TASK_TTL_SECONDS, MAX_PURPOSE_BYTES, MAX_TASK_SCOPE } from './task-rules.js'
export type * from './task-service-options.js'

/**
 * Task decisions over the datastore and CA.
 *
 * @example
 * const tasks = new TaskService({ trustDomain, ca, datastore, logger, clock, defaultJwtSvidTtlSeconds: 300 })
 * tasks.onTaskEnded((task, issued) => revoke(issued))
 */
export class TaskService {
  readonly #o: TaskServiceOptions
  readonly #listeners: TaskEndedListener[] = []

  constructor(opts: TaskServiceOptions) {
    this.#o = opts
  }

  /** Adds a listener run after every task end; returns its removal. */
  onTaskEnded(listener: TaskEndedListener): () => void {
    this.#listeners.push(listener)
    return () => {
      const i = this.#listeners.indexOf(listener)
      if (i >= 0) this.#listeners.splice(i, 1)
    }
  }

  /** Begins a task (see the module comment for the rules); refusals are logged and thrown. */
  async begin(
    caller: TaskCaller,
    req: BeginTaskInput,
  ): Promise<{ task: TaskRecord; txnToken: MintedTxnToken }> {
    const { entry } = req
    const log = { agent_id: caller.agentId, entry_id: entry.id, spiffe_id: entry.spiffeId }
    try {
      return await this.#begin(caller, req)
    } catch (e) {
      this.#o.logger.warn({ ...log, method: 'BeginTask', reason: errorText(e) }, 'task refused')
      this.#o.audit?.note({
        kind: 'task_refused',
        decision: 'deny',
        spiffeId: entry.spiffeId,
        actor: { agentId: caller.agentId },
        details: { entry_id: entry.id, purpose: req.purpose, scope: req.scope, reason: errorText(e) },
      })
      throw e
    }
  }

  async #begin(
    caller: TaskCaller,
    req: BeginTaskInput,
  ): Promise<{ task: TaskRecord; txnToken: MintedTxnToken }> {
    const { entry } = req
    if (!caller.processKey) invalid('the process is unknown')
    const { scope, ttl } = checkBeginRequest(entry, req)
    if (req.onBehalfOf && req.parentTxnToken) invalid('give on_behalf_of or parent_txn_token, not both')

    const now = this.#o.clock()
    const callerId = SpiffeId.parse(entry.spiffeId)
    let deadline = new Date(now.getTime() + ttl * 1000)
    const delegationToken = req.onBehalfOf || req.parentTxnToken
    let delegation: Delegation = { subject: callerId.toString(), actors: [], parentTxn: '' }
    if (delegationToken) {
      delegation = await resolveDelegation(delegationToken, callerId, {
        trustDomain: this.#o.trustDomain,
        bundle: this.#o.ca.currentBundle(),
        now,
        isRevoked: this.#o.isRevoked ?? (() => false),
        datastore: this.#o.datastore,
      })
      const bounds = delegation.bounds
      if (bounds !== undefined) {
        const wider = scope.filter((s) => !bounds.scope.includes(s))
        if (wider.length > 0)
          notAuthorized(`a sub-task may not widen its parent's scope: ${wider.join(' ').slice(0, 256)}`)
        if (bounds.deadline < deadline) deadline = bounds.deadline
      }
    }
    const id = randomUUID()
    const txnToken = await this.#o.ca.signTxnToken({
      txn: id,
      subject: delegation.subject,
      requestingWorkload: callerId,
      purpose: req.purpose,
      scope,
      deadline,
      actors: delegation.actors,
    })
    const task = await this.#o.datastore.createTask({
      id,
      spiffeId: callerId.toString(),
      entryId: entry.id,
      agentId: caller.agentId,
      processKey: caller.processKey,
      subject: delegation.subject,
      purpose: req.purpose,
      scope,
      actChain: delegation.actors,
      parentTxn: delegation.parentTxn,
      createdAt: now,
      deadline: txnToken.expiresAt,
    })
    await this.#o.datastore.recordTaskCredential({
      taskId: id,
      kind: 'txn',
      credential: id,
      audience: [],
      issuedAt: txnToken.issuedAt,
      expiresAt: txnToken.expiresAt,
    })
    await this.#event(id, 'begun', `scope=${scope.join(' ')} deadline=${task.deadline.toISOString()}`, {
      spiffeId: task.spiffeId,
      agentId: caller.agentId,
      details: {
        entry_id: entry.id,
        subject: task.subject,
        purpose: task.purpose,
        scope,
        act_chain: task.actChain,
        parent_txn: task.parentTxn,
        deadline: task.deadline,
      },
    })
    this.#o.logger.info(
      {
        task_id: id,
        agent_id: caller.agentId,
        entry_id: entry.id,
        spiffe_id: task.spiffeId,
        subject: task.subject,
      },
      'task begun',
    )
    return { task, txnToken }
  }

  /**
   * A JWT-SVID for an active task of this agent and process, for one audience in its scope.
   * `callerEntryIds` are the entries the process is attested for now (the task's must be one);
   * `entryFor` resolves the task's entry if the agent may still serve it; `authorize` (policy)
   * may refuse before anything is signed. An audience outside the task's scope, or a refusal by
   * `authorize`, is drift: the task ends `drifted` and its credentials are revoked.
   */
  async fetchJwtSvid(
    caller: TaskCaller,
    taskId: string,
    audience: string,
    callerEntryIds: readonly string[],
    entryFor: (entryId: string) => Promise<RegistrationEntry>,
    authorize?: (task: TaskRecord, entry: RegistrationEntry) => Promise<void>,
  ): Promise<MintedJwtSvid> {
    const task = await this.#owned(caller, taskId, 'jwt_refused')
    const now = this.#o.clock()
    if (task.state === 'ended')
      await this.#refuse(
        task.id,
        'jwt_refused',
        new SigilError('ERR_TASK_ENDED', `task ${task.id} has ended (${task.outcome})`),
      )
    if (task.deadline <= now) {
      await this.end({ agentId: caller.agentId, processKey: '' }, task.id, 'expired', '')
      throw new SigilError('ERR_TASK_ENDED', `task ${task.id} has passed its deadline`)
    }
    if (!task.scope.includes(audience)) {
      const why = `audience "${audience.slice(0, 256)}" is outside the task's scope`
      await this.#drift(task, why)
      throw new SigilError('ERR_NOT_AUTHORIZED', `${why}; the task has drifted and was ended`)
    }
    if (!callerEntryIds.includes(task.entryId)) {
      await this.#refuse(
        task.id,
        'jwt_refused',
        new SigilError('ERR_NOT_AUTHORIZED', "the process no longer holds the task's identity"),
      )
    }
    const entry = await entryFor(task.entryId)
    if (authorize !== undefined) {
      try {
        await authorize(task, entry)
      } catch (e) {
        if (!(e instanceof SigilError) || e.code !== 'ERR_NOT_AUTHORIZED') throw e
        await this.#drift(task, `aud=${audience.slice(0, 256)}: ${e.message}`)
        throw new SigilError('ERR_NOT_AUTHORIZED', `${e.message}; the task has drifted and was ended`, {
          cause: e,
        })
      }
    }
    const jwt = await this.#o.ca.signJwtSvid({
      spiffeId: SpiffeId.parse(task.spiffeId),
      audience: [audience],
      ttlSeconds: entry.jwtSvidTtl || this.#o.defaultJwtSvidTtlSeconds,
      notAfterCap: task.deadline,
      txn: task.id,
      actors: task.actChain,
    })
    const record: IssuedSvidRecord = {
      kind: 'jwt',
      serialOrJti: jwt.jti,
      spiffeId: task.spiffeId,
      entryId: task.entryId,
      agentId: caller.agentId,
      notBefore: jwt.issuedAt,
      notAfter: jwt.expiresAt,
      audience: [audience],
      issuedAt: now,
    }
    await this.#o.datastore.recordIssuedSvids([record])
    await this.#o.datastore.recordTaskCredential({
      taskId: task.id,
      kind: 'jwt',
      credential: jwt.jti,
      audience: [audience],
      issuedAt: jwt.issuedAt,
      expiresAt: jwt.expiresAt,
    })
    // EndTask may have run between the check above and the record: its listeners then saw the
    // credential list without this one. Re-read; if the task ended, revoke it too and refuse.
    const latest = await this.#o.datastore.getTask(task.id)
    if (latest === undefined || latest.state !== 'active') {
      if (latest !== undefined) await this.#runListeners(latest)
      await this.#refuse(
        task.id,
        'jwt_refused',
        new SigilError('ERR_TASK_ENDED', `task ${task.id} ended while its JWT-SVID was being issued`),
      )
    }
    await this.#event(task.id, 'jwt_issued', `aud=${audience.slice(0, 256)} jti=${jwt.jti}`, {
      spiffeId: task.spiffeId,
      serialOrJti: jwt.jti,
      agentId: caller.agentId,
      details: {
        entry_id: task.entryId,
        audience: [audience],
        subject: task.subject,
        act_chain: task.actChain,
        not_after: jwt.expiresAt,
      },
    })
    return jwt
  }

  /**
   * Ends a task. `caller` undefined: an operator (any outcome). Otherwise the task's agent:
   * completed/failed/cancelled only for the task's own process, expired/process_exited for the
   * agent itself. Runs the listeners after the end is stored.
   */
  async end(
    caller: TaskCaller | undefined,
    taskId: string,
    outcome: string,
    reason: string,
  ): Promise<TaskRecord> {
    if (!PROCESS_OUTCOMES.has(outcome) && !AGENT_OUTCOMES.has(outcome)) {
      invalid('outcome must be completed, failed, cancelled, expired, process_exited or drifted')
    }
    if (Buffer.byteLength(reason) > MAX_END_REASON_BYTES)
      invalid(`reason is longer than ${MAX_END_REASON_BYTES} bytes`)
    if (caller !== undefined) {
      const task = await this.#owned(caller, taskId, 'end_refused', AGENT_OUTCOMES.has(outcome))
      if (task.state === 'ended') {
        await this.#refuse(
          task.id,
          'end_refused',
          new SigilError('ERR_TASK_ENDED', `task ${task.id} already ended (${task.outcome})`),
        )
      }
    }
    const ended = await this.#o.datastore.endTask(taskId, outcome as TaskOutcome, reason, this.#o.clock())
    await this.#event(
      taskId,
      'ended',
      `${outcome}${caller === undefined ? ' by an operator' : ''}${reason ? `: ${reason}` : ''}`,
    )
    this.#o.logger.info(
      { task_id: taskId, outcome, by: caller === undefined ? 'operator' : caller.agentId },
      'task ended',
    )
    await this.#runListeners(ended)
    return ended
  }

  /**
   * Drift: a caller inside the task was refused (outside its scope, or by policy). The task ends
   * `drifted` with the reason, and the listeners revoke every credential issued for it. A task
   * that has already ended stays as it is.
   */
  async #drift(task: TaskRecord, reason: string): Promise<void> {
    await this.#event(task.id, 'jwt_refused', reason)
    let ended: TaskRecord
    try {
      ended = await this.#o.datastore.endTask(task.id, 'drifted', reason, this.#o.clock())
    } catch (e) {
      if (e instanceof SigilError && e.code === 'ERR_TASK_ENDED') return
      throw e
    }
    await this.#event(task.id, 'ended', `drifted: ${reason}`)
    this.#o.logger.warn(
      { task_id: task.id, spiffe_id: task.spiffeId, reason },
      'task drifted; ended and revoked',
    )
    await this.#runListeners(ended)
  }

  /** Runs the task-ended listeners with every credential recorded for the task so far. */
  async #runListeners(ended: TaskRecord): Promise<void> {
    const issued = await this.#o.datastore.listTaskCredentials(ended.id)
    for (const listener of [...this.#listeners]) {
      try {
        await listener(ended, issued)
      } catch (e) {
        this.#o.logger.error({ task_id: ended.id, err: errorText(e) }, 'task-ended listener failed')
      }
    }
  }

  /** Ends every active task past its deadline with `expired` (the server-side backstop). */
  async expireOverdue(): Promise<number> {
    const overdue = await this.#o.datastore.listTasks({ state: 'active', deadlineBefore: this.#o.clock() })
    let n = 0
    for (const task of overdue) {
      try {
        await this.end(undefined, task.id, 'expired', 'deadline passed')
        n++
      } catch (e) {
        this.#o.logger.warn({ task_id: task.id, err: errorText(e) }, 'could not expire task')
      }
    }
    return n
  }

  /** The task, if `caller` is its agent and (unless `agentOnly`) its process; refusals recorded. */
  async #owned(caller: TaskCaller, taskId: string, event: string, agentOnly = false): Promise<TaskRecord> {
    if (!taskId) invalid('task_id is empty')
    const task = await this.#o.datastore.getTask(taskId)
    if (task === undefined) throw new SigilError('ERR_NOT_FOUND', `task ${taskId.slice(0, 128)} not found`)
    if (task.agentId !== caller.agentId) {
      await this.#refuse(
        task.id,
        event,
        new SigilError('ERR_NOT_AUTHORIZED', `task ${task.id} was begun on another agent`),
      )
    }
    if (!agentOnly && caller.processKey !== task.processKey) {
      await this.#refuse(
        task.id,
        event,
        new SigilError('ERR_NOT_AUTHORIZED', `task ${task.id} was begun by another process`),
      )
    }
    return task
  }

  async #refuse(taskId: string, event: string, e: SigilError): Promise<never> {
    await this.#event(taskId, event, e.message)
    this.#o.logger.warn({ task_id: taskId, event, reason: e.message }, 'task request refused')
    throw e
  }

  async #event(taskId: string, event: string, detail: string, about: TaskEventAbout = {}): Promise<void> {
    await this.#o.datastore.recordTaskEvent({ taskId, at: this.#o.clock(), event, detail })
    await this.#o.audit?.record({
      kind: `task_${event}`,
      decision: event.endsWith('_refused') ? 'deny' : event === 'ended' ? 'info' : 'allow',
      taskId,
      ...(about.spiffeId ? { spiffeId: about.spiffeId } : {}),
      ...(about.serialOrJti ? { serialOrJti: about.serialOrJti } : {}),
      ...(about.agentId ? { actor: { agentId: about.agentId } } : {}),
      details: { detail, ...about.details },
    })
  }
}
