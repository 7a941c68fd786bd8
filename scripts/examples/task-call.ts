// Task-bound credentials: a workload begins a task for one unit of work, calls a service in
// the task's scope with a JWT-SVID bound to the task plus the task's Txn-Token, and ends the
// task (its credentials die with it). The service checks both with verifyTaskRequest.
import { type JWTSource, Task, verifyTaskRequest } from '../../sdk/index.js'

/** Begins a task that may call `audience`; returns it (end it when done) and the headers to send. */
export async function beginTaskFor(
  audience: string,
): Promise<{ task: Task; headers: Record<string, string> }> {
  const task = await Task.begin({ purpose: 'nightly report', scope: [audience], ttl: 300 })
  const jwt = await task.jwtFor(audience)
  return { task, headers: { authorization: `Bearer ${jwt}`, 'txn-token': task.txnToken } }
}

/** What the service does with a request's headers: who called, for which task, for whom. */
export async function describeTaskRequest(
  jwt: JWTSource,
  headers: Record<string, string | undefined>,
  audience: string,
): Promise<string> {
  const { caller, task, actChain } = await verifyTaskRequest(headers, { audience, bundles: jwt })
  const via = actChain.length > 0 ? ` via ${actChain.join(' < ')}` : ''
  return `${caller} in task ${task.id} for ${task.subject}${via}`
}
