/**
 * Demo component `researcher`: an mTLS server that lets in only `planner`; for each task it
 * calls `executor` over mTLS, accepting only executor's SVID. It is the rogue copycat's
 * target: a copied planner certificate without planner's key gets no further than the
 * handshake, and its refusals are reported here.
 *
 * Governed tasks (a request carrying the planner's Txn-Token): it begins a sub-task under that
 * token, looks something up at tool-api with the sub-task's credentials, passes the planner's
 * Txn-Token on to executor unchanged, and ends its sub-task with executor's outcome. A sub-task
 * the server refuses (e.g. under the Txn-Token of a task that has ended) is answered 403.
 *
 * Entry: selected by `proc:script:<this file>` and the demo's uid (see run-demo.ts).
 */
import type { IncomingMessage } from 'node:http'
import { authorizeId, isSigilError, type Task, TXN_TOKEN_HEADER } from '../../sdk/index.js'
import { startComponent } from './component-runtime.js'
import type { Hop } from './demo-event.js'
import {
  beginTask,
  callTool,
  endTask,
  GOVERNED_CALL_TIMEOUT_MS,
  taskHeaders,
  txnTokenOf,
} from './governed-task.js'
import { callHttps, type Reply, serveHttps } from './mtls-http.js'

const c = await startComponent('researcher')
const executorUrl = c.env('DEMO_EXECUTOR_URL')
const toolApiUrl = c.env('DEMO_TOOL_API_URL')
const isExecutor = authorizeId(c.idOf('executor'))

/** One governed sub-task: begin under the planner's Txn-Token, search, hand on to executor, end. */
async function governed(req: IncomingMessage, parentTxnToken: string): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'https://researcher')
  const run = Number(url.searchParams.get('run') ?? 0)
  let task: Task
  try {
    task = await beginTask(c, run, `run ${run}: research`, { parentTxnToken })
  } catch (err) {
    // the server refused the sub-task: the parent's Txn-Token does not verify, is revoked, or
    // its task has ended
    if (!isSigilError(err)) throw err
    c.emit({ kind: 'refused', layer: 'task', peer: c.idOf('planner'), code: err.code, reason: err.message })
    return { status: 403, body: { error: `researcher: ${err.message}` } }
  }
  try {
    const found = await callTool(c, toolApiUrl, `/search?run=${run}`, await taskHeaders(c, task))
    if (found.status !== 200)
      throw new Error(`tool-api answered ${found.status}: ${String(found.body.error)}`)
    const r = await callHttps(
      c,
      `${executorUrl}/execute?task=gov-${run}&${url.searchParams.toString()}`,
      isExecutor,
      { [TXN_TOKEN_HEADER]: parentTxnToken },
      GOVERNED_CALL_TIMEOUT_MS,
    )
    await endTask(c, run, task, r.status === 200 ? 'completed' : 'failed')
    return r.status === 200
      ? { status: 200, body: { result: r.body.result } }
      : { status: 502, body: { error: `researcher: ${String(r.body.error)}` } }
  } catch (err) {
    await endTask(c, run, task, 'failed')
    return { status: 502, body: { error: `researcher: ${(err as Error).message}` } }
  }
}

await serveHttps(c, {
  authorizer: authorizeId(c.idOf('planner')),
  accepts: 'planner only',
  handle: async (req, _peer, ownSerial) => {
    const parentTxnToken = txnTokenOf(req.headers)
    if (parentTxnToken !== undefined) return governed(req, parentTxnToken)
    const task = new URL(req.url ?? '/', 'https://researcher').searchParams.get('task') ?? '?'
    const target = `executor (task ${task})`
    try {
      const r = await callHttps(c, `${executorUrl}/execute?task=${encodeURIComponent(task)}`, isExecutor)
      if (r.status !== 200) throw new Error(`executor answered ${r.status}: ${String(r.body.error)}`)
      const hops = [...((r.body.hops as Hop[]) ?? []), { component: c.name, serial: ownSerial }]
      c.emit({ kind: 'request', ok: true, target, detail: 'ok', hops })
      return { status: 200, body: { result: r.body.result, hops } }
    } catch (err) {
      const detail = (err as Error).message
      c.emit({ kind: 'request', ok: false, target, detail })
      return { status: 502, body: { error: `researcher: ${detail}` } }
    }
  },
})
