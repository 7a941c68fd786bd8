/**
 * The governed pipeline's task steps, shared by planner, researcher and executor: begin a task
 * (the planner, on behalf of a user) or a sub-task under the parent's Txn-Token (researcher,
 * executor), call tool-api with the task's credentials (a JWT-SVID bound to the task plus the
 * Txn-Token), end it, and use an ended task's credentials again to see them refused.
 *
 * Trust: the Txn-Token and the task JWT-SVIDs are bearer credentials; they travel only in
 * request headers over mTLS to the component that needs them, and are never printed.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { authorizeId, Task, type TaskOutcome, TXN_TOKEN_HEADER } from '../../sdk/index.js'
import type { Component } from './component-runtime.js'
import { shortTask } from './demo-event.js'
import { type CallResult, callHttps } from './mtls-http.js'

/** Lifetime of a governed task: its credentials never outlive it. */
export const TASK_TTL_SECONDS = 30
/** How long an ended task's credentials are tried again before the demo calls it a failure. */
const REPLAY_DEADLINE_MS = 5_000
/** Between two uses of an ended task's credentials. */
const REPLAY_PAUSE_MS = 5
/** A governed call waits this long: a hop may be replaying ended credentials before it answers. */
export const GOVERNED_CALL_TIMEOUT_MS = 20_000

/** The audience of tool-api for tasks (an entry's --task-scope): its SPIFFE ID. */
export function taskAudience(c: Component): string {
  return c.idOf('tool-api')
}

/** The parent task's Txn-Token a request carries (`Txn-Token` header), if exactly one. */
export function txnTokenOf(headers: IncomingHttpHeaders): string | undefined {
  const value = headers[TXN_TOKEN_HEADER.toLowerCase()]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** A string claim of a JWT, for the timeline only (unverified here: the server checked it). */
function claimOf(token: string, name: 'txn' | 'sub'): string {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >
    return typeof payload[name] === 'string' ? payload[name] : '?'
  } catch {
    return '?'
  }
}

/**
 * Begins a task for run `run` that may call tool-api: on behalf of `onBehalfOf` (a user's
 * JWT-SVID addressed to this workload) or as a sub-task under `parentTxnToken`.
 *
 * @example
 * const task = await beginTask(c, 1, 'research', { parentTxnToken })
 */
export async function beginTask(
  c: Component,
  run: number,
  purpose: string,
  from: { readonly onBehalfOf: string } | { readonly parentTxnToken: string },
): Promise<Task> {
  const task = await Task.begin({ purpose, scope: [taskAudience(c)], ttl: TASK_TTL_SECONDS, ...from })
  const principal = claimOf(task.txnToken, 'sub')
  const under =
    'parentTxnToken' in from
      ? `sub-task of ${shortTask(claimOf(from.parentTxnToken, 'txn'))} for ${principal}`
      : `on behalf of ${principal}`
  const until = task.expiresAt.toISOString().slice(11, 19)
  c.emit({
    kind: 'task',
    action: 'begun',
    run,
    taskId: task.id,
    detail: `"${purpose}", ${under}; may call ${taskAudience(c)} until ${until}`,
  })
  return task
}

/** Ends `task`; resolves when EndTask returned, as `performance.now()`. */
export async function endTask(c: Component, run: number, task: Task, outcome: TaskOutcome): Promise<number> {
  await task.end(outcome)
  const at = performance.now()
  c.emit({ kind: 'task', action: 'ended', run, taskId: task.id, detail: outcome })
  return at
}

/** The task's credentials for one tool-api call: its JWT-SVID for tool-api and its Txn-Token. */
export async function taskHeaders(c: Component, task: Task): Promise<Record<string, string>> {
  const jwt = await task.jwtFor(taskAudience(c))
  return { authorization: `Bearer ${jwt}`, [TXN_TOKEN_HEADER]: task.txnToken }
}

/** One call to tool-api over mTLS (only tool-api's SVID accepted) with task credentials. */
export function callTool(
  c: Component,
  toolApiUrl: string,
  path: string,
  headers: Record<string, string>,
): Promise<CallResult> {
  return callHttps(c, `${toolApiUrl}${path}`, authorizeId(c.idOf('tool-api')), headers)
}

/** tool-api's answer to credentials it does not accept (other errors are not a refusal). */
export function isRefusal(r: CallResult): boolean {
  return r.status === 401 || r.status === 403
}

/**
 * Uses an ended task's credentials again (`use`) until they are refused or
 * {@link REPLAY_DEADLINE_MS} has passed; reports how long after `endedAt` (EndTask returned,
 * `performance.now()`) the first refusal came back, and how long that use itself took (a new
 * mTLS connection, tool-api asking the agent): when the two are close, the credentials were
 * already dead when the use began.
 */
export async function replayUntilRefused(
  c: Component,
  run: number,
  endedAt: number,
  use: () => Promise<CallResult>,
): Promise<void> {
  let reason = ''
  for (let tries = 1; ; tries++) {
    try {
      const sent = performance.now()
      const r = await use()
      if (isRefusal(r)) {
        const now = performance.now()
        const [afterMs, callMs] = [Math.round(now - endedAt), Math.round(now - sent)]
        c.emit({ kind: 'replay', run, refused: true, afterMs, callMs, tries, reason: String(r.body.error) })
        return
      }
      reason = `HTTP ${r.status}${r.status === 200 ? ': accepted' : `: ${String(r.body.error)}`}`
    } catch (err) {
      reason = (err as Error).message
    }
    const afterMs = Math.round(performance.now() - endedAt)
    if (afterMs >= REPLAY_DEADLINE_MS) {
      c.emit({ kind: 'replay', run, refused: false, afterMs, callMs: 0, tries, reason })
      return
    }
    await sleep(REPLAY_PAUSE_MS)
  }
}
