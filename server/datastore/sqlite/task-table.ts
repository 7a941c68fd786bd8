/**
 * Tasks on SQLite: one `tasks` row per task, its credentials in `task_credentials` and its
 * decisions in `task_events`. Runs inside the transactions and error translation of
 * `SqliteDataStore`; inputs arrive already checked by `validate-records.ts`.
 */
import { SigilError } from '../../../certs/errors.js'
import { type TaskRow as DecodedTaskRow, taskFromRow } from '../record-rows.js'
import type { TaskCredential, TaskEvent, TaskFilter, TaskInput, TaskOutcome, TaskRecord } from '../records.js'
import type { Params, Sql } from './sql.js'

type TaskRow = Omit<DecodedTaskRow, 'scope' | 'act_chain'> & { scope: string; act_chain: string }

const INSERT_TASK = `INSERT INTO tasks (id, state, spiffe_id, entry_id, agent_id, process_key, subject, purpose,
  scope, act_chain, parent_txn, created_at, deadline)
  VALUES (@id, 'active', @spiffeId, @entryId, @agentId, @processKey, @subject, @purpose, @scope, @actChain,
  @parentTxn, @createdAt, @deadline)`
const INSERT_CREDENTIAL = `INSERT OR IGNORE INTO task_credentials (task_id, kind, credential, audience, issued_at, expires_at)
  VALUES (@taskId, @kind, @credential, @audience, @issuedAt, @expiresAt)`

function toTask(row: TaskRow): TaskRecord {
  return taskFromRow({
    ...row,
    scope: JSON.parse(row.scope) as string[],
    act_chain: JSON.parse(row.act_chain) as string[],
  })
}

/** Events past which a task's refusals are no longer kept (a process repeating a refused request cannot grow the store without end). */
export const MAX_TASK_EVENTS = 1000

/** Task queries; callers provide transactions and error translation. */
export class TaskTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  create(t: TaskInput): TaskRecord {
    this.#sql.run(INSERT_TASK, {
      id: t.id,
      spiffeId: t.spiffeId,
      entryId: t.entryId,
      agentId: t.agentId,
      processKey: t.processKey,
      subject: t.subject,
      purpose: t.purpose,
      scope: JSON.stringify(t.scope),
      actChain: JSON.stringify(t.actChain),
      parentTxn: t.parentTxn,
      createdAt: t.createdAt.getTime(),
      deadline: t.deadline.getTime(),
    })
    return this.get(t.id)!
  }

  get(id: string): TaskRecord | undefined {
    const row = this.#sql.get<TaskRow>('SELECT * FROM tasks WHERE id = @id', { id })
    return row === undefined ? undefined : toTask(row)
  }

  list(filter: TaskFilter): TaskRecord[] {
    const parts: string[] = []
    const params: Params = { limit: filter.limit ?? -1 }
    if (filter.state !== undefined) {
      parts.push('state = @state')
      params.state = filter.state
    }
    if (filter.spiffeId !== undefined) {
      parts.push('spiffe_id = @spiffeId')
      params.spiffeId = filter.spiffeId
    }
    if (filter.deadlineBefore !== undefined) {
      parts.push('deadline <= @deadlineBefore')
      params.deadlineBefore = filter.deadlineBefore.getTime()
    }
    const clause = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`
    return this.#sql
      .all<TaskRow>(`SELECT * FROM tasks ${clause} ORDER BY created_at DESC, rowid DESC LIMIT @limit`, params)
      .map(toTask)
  }

  /** Ends an active task (call inside a write transaction). */
  end(id: string, outcome: TaskOutcome, reason: string, now: Date): TaskRecord {
    const current = this.get(id)
    if (current === undefined) throw new SigilError('ERR_NOT_FOUND', `task ${id} not found`)
    if (current.state === 'ended') {
      throw new SigilError('ERR_TASK_ENDED', `task ${id} already ended (${current.outcome})`)
    }
    this.#sql.run(
      `UPDATE tasks SET state = 'ended', outcome = @outcome, end_reason = @reason, ended_at = @now WHERE id = @id`,
      { id, outcome, reason, now: now.getTime() },
    )
    return this.get(id)!
  }

  recordCredential(c: TaskCredential): void {
    if (this.get(c.taskId) === undefined) throw new SigilError('ERR_NOT_FOUND', `task ${c.taskId} not found`)
    this.#sql.run(INSERT_CREDENTIAL, {
      taskId: c.taskId,
      kind: c.kind,
      credential: c.credential,
      audience: JSON.stringify(c.audience),
      issuedAt: c.issuedAt.getTime(),
      expiresAt: c.expiresAt.getTime(),
    })
  }

  credentials(taskId: string): TaskCredential[] {
    return this.#sql
      .all<{
        kind: TaskCredential['kind']
        credential: string
        audience: string
        issued_at: number
        expires_at: number
      }>(
        `SELECT kind, credential, audience, issued_at, expires_at FROM task_credentials WHERE task_id = @taskId
         ORDER BY issued_at, kind, credential`,
        { taskId },
      )
      .map((r) => ({
        taskId,
        kind: r.kind,
        credential: r.credential,
        audience: JSON.parse(r.audience) as string[],
        issuedAt: new Date(r.issued_at),
        expiresAt: new Date(r.expires_at),
      }))
  }

  recordEvent(e: TaskEvent): void {
    if (this.get(e.taskId) === undefined) throw new SigilError('ERR_NOT_FOUND', `task ${e.taskId} not found`)
    const { n } = this.#sql.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM task_events WHERE task_id = @taskId',
      {
        taskId: e.taskId,
      },
    )!
    if (n >= MAX_TASK_EVENTS && e.event.endsWith('_refused')) return
    this.#sql.run(
      'INSERT INTO task_events (task_id, at, event, detail) VALUES (@taskId, @at, @event, @detail)',
      {
        taskId: e.taskId,
        at: e.at.getTime(),
        event: e.event,
        detail: e.detail,
      },
    )
  }

  events(taskId: string): TaskEvent[] {
    return this.#sql
      .all<{ at: number; event: string; detail: string }>(
        'SELECT at, event, detail FROM task_events WHERE task_id = @taskId ORDER BY id',
        { taskId },
      )
      .map((r) => ({ taskId, at: new Date(r.at), event: r.event, detail: r.detail }))
  }
}
