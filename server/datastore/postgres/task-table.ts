/**
 * Tasks on PostgreSQL: one `tasks` row per task, its credentials in `task_credentials` and its
 * decisions in `task_events`. Runs inside the transactions and error translation of
 * `PostgresDataStore`; a write that depends on the task's state locks its row first.
 */
import { SigilError } from '../../../certs/errors.js'
import { type TaskRow, taskFromRow } from '../record-rows.js'
import type { TaskCredential, TaskEvent, TaskFilter, TaskInput, TaskOutcome, TaskRecord } from '../records.js'
import { MAX_TASK_EVENTS } from '../sqlite/task-table.js'
import type { Queryable } from './pg-sql.js'

const SELECT_TASK = `SELECT id, state, outcome, end_reason, spiffe_id, entry_id, agent_id, process_key, subject,
  purpose, scope, act_chain, parent_txn, created_at, deadline, ended_at FROM tasks`

async function getTask(q: Queryable, id: string, lock = false): Promise<TaskRecord | undefined> {
  const row = await q.one<TaskRow>(`${SELECT_TASK} WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])
  return row === undefined ? undefined : taskFromRow(row)
}

async function lockExisting(q: Queryable, id: string): Promise<TaskRecord> {
  const task = await getTask(q, id, true)
  if (task === undefined) throw new SigilError('ERR_NOT_FOUND', `task ${id} not found`)
  return task
}

/** Task queries; callers provide transactions and error translation. */
export const taskTable = {
  async create(q: Queryable, t: TaskInput): Promise<TaskRecord> {
    await q.run(
      `INSERT INTO tasks (id, state, spiffe_id, entry_id, agent_id, process_key, subject, purpose, scope, act_chain,
       parent_txn, created_at, deadline) VALUES ($1, 'active', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        t.id,
        t.spiffeId,
        t.entryId,
        t.agentId,
        t.processKey,
        t.subject,
        t.purpose,
        [...t.scope],
        [...t.actChain],
        t.parentTxn,
        t.createdAt.getTime(),
        t.deadline.getTime(),
      ],
    )
    return (await getTask(q, t.id))!
  },

  get: getTask,

  async list(q: Queryable, filter: TaskFilter): Promise<TaskRecord[]> {
    const parts: string[] = []
    const params: unknown[] = []
    const add = (column: string, op: string, value: unknown) => {
      params.push(value)
      parts.push(`${column} ${op} $${params.length}`)
    }
    if (filter.state !== undefined) add('state', '=', filter.state)
    if (filter.spiffeId !== undefined) add('spiffe_id', '=', filter.spiffeId)
    if (filter.deadlineBefore !== undefined) add('deadline', '<=', filter.deadlineBefore.getTime())
    params.push(filter.limit ?? null)
    const clause = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`
    const rows = await q.rows<TaskRow>(
      `${SELECT_TASK} ${clause} ORDER BY created_at DESC, seq DESC LIMIT $${params.length}`,
      params,
    )
    return rows.map(taskFromRow)
  },

  /** Ends an active task (inside a write transaction). */
  async end(q: Queryable, id: string, outcome: TaskOutcome, reason: string, now: Date): Promise<TaskRecord> {
    const current = await lockExisting(q, id)
    if (current.state === 'ended') {
      throw new SigilError('ERR_TASK_ENDED', `task ${id} already ended (${current.outcome})`)
    }
    await q.run(
      "UPDATE tasks SET state = 'ended', outcome = $2, end_reason = $3, ended_at = $4 WHERE id = $1",
      [id, outcome, reason, now.getTime()],
    )
    return (await getTask(q, id))!
  },

  async recordCredential(q: Queryable, c: TaskCredential): Promise<void> {
    await lockExisting(q, c.taskId)
    await q.run(
      `INSERT INTO task_credentials (task_id, kind, credential, audience, issued_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [c.taskId, c.kind, c.credential, [...c.audience], c.issuedAt.getTime(), c.expiresAt.getTime()],
    )
  },

  async credentials(q: Queryable, taskId: string): Promise<TaskCredential[]> {
    const rows = await q.rows<{
      kind: TaskCredential['kind']
      credential: string
      audience: string[]
      issued_at: number
      expires_at: number
    }>(
      `SELECT kind, credential, audience, issued_at, expires_at FROM task_credentials WHERE task_id = $1
       ORDER BY issued_at, kind, credential`,
      [taskId],
    )
    return rows.map((r) => ({
      taskId,
      kind: r.kind,
      credential: r.credential,
      audience: r.audience,
      issuedAt: new Date(r.issued_at),
      expiresAt: new Date(r.expires_at),
    }))
  },

  /** Appends a decision; past MAX_TASK_EVENTS refusals are dropped (the task row lock makes the count exact). */
  async recordEvent(q: Queryable, e: TaskEvent): Promise<void> {
    await lockExisting(q, e.taskId)
    const { n } = (await q.one<{ n: number }>('SELECT COUNT(*) AS n FROM task_events WHERE task_id = $1', [
      e.taskId,
    ]))!
    if (n >= MAX_TASK_EVENTS && e.event.endsWith('_refused')) return
    await q.run('INSERT INTO task_events (task_id, at, event, detail) VALUES ($1, $2, $3, $4)', [
      e.taskId,
      e.at.getTime(),
      e.event,
      e.detail,
    ])
  },

  async events(q: Queryable, taskId: string): Promise<TaskEvent[]> {
    const rows = await q.rows<{ at: number; event: string; detail: string }>(
      'SELECT at, event, detail FROM task_events WHERE task_id = $1 ORDER BY id',
      [taskId],
    )
    return rows.map((r) => ({ taskId, at: new Date(r.at), event: r.event, detail: r.detail }))
  },
}
