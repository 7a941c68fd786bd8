/** Admin handlers for `task list`, `task show` and `task end` (an operator ends any task). */
import { SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { Task__Output as TaskMessage } from '../../../proto/generated/sigil/admin/v1/Task.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { TaskFilter, TaskRecord } from '../../datastore/records.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { checkText } from './admin-input.js'
import { unary } from './unary.js'

/** At most this many tasks per `task list` answer (the newest ones). */
export const MAX_LISTED_TASKS = 10_000

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000)

/** The wire form of a task. */
export function taskToMessage(t: TaskRecord): TaskMessage {
  return {
    task_id: t.id,
    state: t.state,
    outcome: t.outcome,
    end_reason: t.endReason,
    spiffe_id: t.spiffeId,
    entry_id: t.entryId,
    agent_id: t.agentId,
    subject: t.subject,
    purpose: t.purpose,
    scope: [...t.scope],
    act_chain: [...t.actChain],
    parent_txn: t.parentTxn,
    created_at: seconds(t.createdAt),
    deadline: seconds(t.deadline),
    ended_at: t.endedAt === undefined ? 0 : seconds(t.endedAt),
  }
}

function requireTaskId(id: string): string {
  if (id === '') throw new SigilError('ERR_INVALID_ARGUMENT', 'task_id is required')
  return id
}

/** The task handlers. */
export function taskHandlers(
  deps: AdminApiDeps,
): Pick<AdminAPIHandlers, 'ListTasks' | 'GetTask' | 'EndTask'> {
  const { datastore, logger } = deps
  const tasks = () => {
    if (deps.tasks === undefined)
      throw new SigilError('ERR_UNAVAILABLE', 'tasks are not enabled on this server')
    return deps.tasks
  }
  return {
    ListTasks: unary('ListTasks', logger, async (req) => {
      const filter: { -readonly [K in keyof TaskFilter]: TaskFilter[K] } = {
        limit: req.limit > 0 ? Math.min(req.limit, MAX_LISTED_TASKS) : MAX_LISTED_TASKS,
      }
      if (req.state !== '') {
        if (req.state !== 'active' && req.state !== 'ended') {
          throw new SigilError('ERR_INVALID_ARGUMENT', 'state must be "active" or "ended"')
        }
        filter.state = req.state
      }
      if (req.spiffe_id !== '') filter.spiffeId = SpiffeId.parse(req.spiffe_id).toString()
      return { tasks: (await datastore.listTasks(filter)).map(taskToMessage) }
    }),
    GetTask: unary('GetTask', logger, async (req) => {
      const id = requireTaskId(req.task_id)
      const task = await datastore.getTask(id)
      if (task === undefined) throw new SigilError('ERR_NOT_FOUND', `task ${id.slice(0, 128)} not found`)
      const credentials = await datastore.listTaskCredentials(id)
      const events = await datastore.listTaskEvents(id)
      return {
        task: taskToMessage(task),
        credentials: credentials.map((c) => ({
          kind: c.kind,
          credential: c.credential,
          audience: [...c.audience],
          issued_at: seconds(c.issuedAt),
          expires_at: seconds(c.expiresAt),
        })),
        events: events.map((e) => ({ at: seconds(e.at), event: e.event, detail: e.detail })),
      }
    }),
    EndTask: unary('EndTask', logger, async (req) => {
      const id = requireTaskId(req.task_id)
      const reason = checkText(req.reason, 'reason')
      return { task: taskToMessage(await tasks().end(undefined, id, 'cancelled', reason)) }
    }),
  }
}
