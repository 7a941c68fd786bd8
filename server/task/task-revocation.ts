/**
 * "No credential survives its task": ties the task service to the revocation list. Ending a
 * task (any outcome, by its process, its agent or an operator) revokes its Txn-Token (`txn`)
 * and every JWT-SVID and X509-SVID recorded as issued for it, each kept on the list until the
 * credential itself expires. The task-ended listeners are awaited before `EndTask` answers, so
 * the revocations are stored (and pushed to agents) by the time the caller hears the task ended.
 *
 * @example
 * const revokeTask = connectTaskRevocation(tasks, revocations, datastore)
 * await revokeTask(taskId, 'leaked') // `svid revoke --task-id`
 */
import { SigilError } from '../../certs/errors.js'
import type { RevocationRecord, TaskCredential, TaskRecord } from '../datastore/datastore.js'
import type { RevocationList, RevokeRequest } from '../revocation/revocation-list.js'
import type { IsRevoked } from './delegation.js'
import type { TaskService } from './task-service.js'

const KIND: Record<TaskCredential['kind'], RevokeRequest['kind']> = {
  txn: 'txn',
  jwt: 'jwt_jti',
  x509: 'x509_serial',
}

/** The revocations that kill a task's credentials: its `txn` (always) and everything issued for it. */
export function revocationsForTask(
  task: TaskRecord,
  issued: readonly TaskCredential[],
  reason: string,
): RevokeRequest[] {
  const requests = new Map<string, RevokeRequest>()
  requests.set(`txn\0${task.id}`, { kind: 'txn', value: task.id, reason, expiresAt: task.deadline })
  for (const c of issued) {
    const kind = KIND[c.kind]
    const k = `${kind}\0${c.credential}`
    const prev = requests.get(k)
    if (prev?.expiresAt && prev.expiresAt >= c.expiresAt) continue
    requests.set(k, { kind, value: c.credential, reason, expiresAt: c.expiresAt })
  }
  return [...requests.values()]
}

/** `isRevoked` for delegation tokens (`on_behalf_of`, parent Txn-Token), read from the list. */
export function revokedIn(revocations: Pick<RevocationList, 'isRevoked'>): IsRevoked {
  return ({ jti, txn }) =>
    (jti !== undefined && revocations.isRevoked('jwt_jti', jti)) ||
    (txn !== undefined && revocations.isRevoked('txn', txn))
}

type TaskReader = {
  getTask(id: string): Promise<TaskRecord | undefined>
  listTaskCredentials(id: string): Promise<TaskCredential[]>
}

/**
 * Revokes every credential of a task when it ends, and returns the `svid revoke --task-id`
 * action: an active task is ended (outcome `cancelled`, which revokes through the listener); an
 * ended one has its credentials revoked again (harmless). Rejects `ERR_NOT_FOUND` for an
 * unknown task.
 */
export function connectTaskRevocation(
  tasks: TaskService,
  revocations: RevocationList,
  datastore: TaskReader,
): (taskId: string, reason: string) => Promise<{ sequence: number; revoked: RevocationRecord[] }> {
  tasks.onTaskEnded(async (task, issued) => {
    const reason = `task ${task.outcome}${task.endReason ? `: ${task.endReason}` : ''}`
    await revocations.revoke(revocationsForTask(task, issued, reason))
  })
  return async (taskId, reason) => {
    const task = await datastore.getTask(taskId)
    if (task === undefined) throw new SigilError('ERR_NOT_FOUND', 'no task has this id')
    let ended = task
    if (task.state === 'active') {
      ended = await tasks.end(undefined, taskId, 'cancelled', reason || 'credentials revoked')
    }
    const requests = revocationsForTask(ended, await datastore.listTaskCredentials(taskId), reason)
    const sequence = await revocations.revoke(requests)
    const revoked = requests.flatMap((r) => revocations.get(r.kind, r.value) ?? [])
    return { sequence, revoked }
  }
}
