/**
 * Demo component `executor`: an mTLS server that lets in only `researcher`; for each task it
 * calls `tool-api` over mTLS (accepting only tool-api's SVID) with a JWT-SVID for audience
 * `tool-api` from the SDK's JWTSource (reused until half its lifetime has passed). Once, after
 * its first successful call, it also sends tool-api a JWT-SVID minted for another audience,
 * which tool-api must refuse.
 *
 * Governed tasks (a request carrying the planner's Txn-Token): it begins a sub-task under that
 * token, calls tool-api with the sub-task's JWT-SVID and Txn-Token, and ends the sub-task. When
 * it completed, it replays the same credentials until tool-api refuses them and reports how
 * long after EndTask returned that was. With `fail=midway` its second tool call fails, it ends
 * the sub-task as failed at once, and the next use of its credentials must be refused.
 *
 * The policy scene (command `policy-scene` on stdin, once the operator has set the policy set):
 * it calls tool-api's high-risk `/payments` tool, which the agent holds until an operator
 * approves it (the call simply waits), then calls it again within the approval's window (no new
 * hold); then it begins a task on behalf of alice (scope: tool-api), uses its task token with
 * tool-api, asks for a task token for an audience outside the task's scope — refused by policy,
 * which drifts the task — and uses the earlier token again until tool-api refuses it.
 *
 * Entry: selected by `proc:script:<this file>` and the demo's uid (see run-demo.ts); owner
 * `team-payments`, risk `high` (the policies read them).
 */
import type { IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { authorizeId } from '../../sdk/index.js'
import { startComponent } from './component-runtime.js'
import type { Hop } from './demo-event.js'
import { beginTask, callTool, endTask, replayUntilRefused, taskHeaders, txnTokenOf } from './governed-task.js'
import { callHttps, type Reply, serveHttps } from './mtls-http.js'

const c = await startComponent('executor')
const jwt = await c.jwt()
const toolApiUrl = c.env('DEMO_TOOL_API_URL')
const isToolApi = authorizeId(c.idOf('tool-api'))
let probed = false
let lastToken = ''

/** The one deliberate misuse: a valid JWT-SVID of executor, but for the wrong audience. */
async function wrongAudience(): Promise<void> {
  const name = 'executor → tool-api with a JWT-SVID for audience "researcher"'
  try {
    const { token } = await jwt.fetchJwtSvid({ audience: ['researcher'] })
    const r = await callHttps(c, `${toolApiUrl}/tool?task=probe`, isToolApi, {
      authorization: `Bearer ${token}`,
    })
    const refused = r.status !== 200
    c.emit({ kind: 'attempt', name, refused, reason: `HTTP ${r.status}: ${String(r.body.error ?? 'ok')}` })
  } catch (err) {
    c.emit({ kind: 'attempt', name, refused: true, reason: (err as Error).message })
  }
}

/** A held call waits as long as the operator takes (the demo approves within seconds). */
const HELD_CALL_TIMEOUT_MS = 10 * 60_000
/** How long the drifted task's earlier token is tried again before the scene calls it a failure. */
const DRIFT_REPLAY_DEADLINE_MS = 10_000

/** One call of the payments tool with executor's JWT-SVID for tool-api. */
async function callPayments(): Promise<{ ok: boolean; ms: number; text: string }> {
  const { token } = await jwt.fetchJwtSvid({ audience: ['tool-api'] })
  const sent = performance.now()
  const r = await callHttps(
    c,
    `${toolApiUrl}/payments`,
    isToolApi,
    { authorization: `Bearer ${token}` },
    HELD_CALL_TIMEOUT_MS,
  )
  const text = r.status === 200 ? String(r.body.result) : String(r.body.error)
  return { ok: r.status === 200, ms: Math.round(performance.now() - sent), text: `HTTP ${r.status}: ${text}` }
}

/** The policy scene (see the module comment); each step is a `policy` event. */
async function policyScene(onBehalfOf: string): Promise<void> {
  c.emit({
    kind: 'notice',
    text: 'calls tool-api /payments (a high-risk tool); the call waits while the agent holds it',
  })
  const paid = await callPayments()
  c.emit({
    kind: 'policy',
    step: 'payments',
    ok: paid.ok,
    detail: `payments call answered after ${(paid.ms / 1000).toFixed(1)} s — ${paid.text}`,
  })
  const again = await callPayments()
  c.emit({
    kind: 'policy',
    step: 'payments-again',
    ok: again.ok,
    detail: `second payments call, within the approval's window: answered in ${again.ms} ms, no new hold — ${again.text}`,
  })

  const task = await beginTask(c, 3, 'policy scene: reconcile invoices', { onBehalfOf })
  const headers = await taskHeaders(c, task)
  const first = await callTool(c, toolApiUrl, '/tool?run=3&step=1', headers)
  c.emit({
    kind: 'policy',
    step: 'task-token',
    ok: first.status === 200,
    taskId: task.id,
    detail: `task token for /demo/tool-api (in the task's scope): tool-api answered ${first.status}`,
  })
  const outside = c.idOf('payments')
  try {
    await task.jwtFor(outside)
    c.emit({
      kind: 'policy',
      step: 'drift',
      ok: false,
      taskId: task.id,
      detail: `a task token for ${outside} (outside the task's scope) was NOT refused`,
    })
  } catch (err) {
    c.emit({
      kind: 'policy',
      step: 'drift',
      ok: true,
      taskId: task.id,
      detail: `asked for a task token for ${outside}, outside the task's scope: refused — ${(err as Error).message}`,
    })
  }
  const since = performance.now()
  let last = ''
  for (;;) {
    const r = await callTool(c, toolApiUrl, '/tool?run=3&step=after-drift', headers).catch((e: unknown) => ({
      status: 0,
      body: { error: (e as Error).message },
    }))
    last = `HTTP ${r.status}: ${String(r.body.error ?? 'accepted')}`
    const ms = Math.round(performance.now() - since)
    if (r.status === 401 || r.status === 403) {
      c.emit({
        kind: 'policy',
        step: 'drift-replay',
        ok: true,
        taskId: task.id,
        detail: `the drifted task's earlier token used again: refused (${ms} ms after the drift) — ${last}`,
      })
      return
    }
    if (ms >= DRIFT_REPLAY_DEADLINE_MS) break
    await sleep(20)
  }
  c.emit({
    kind: 'policy',
    step: 'drift-replay',
    ok: false,
    taskId: task.id,
    detail: `the drifted task's earlier token was NOT refused within ${DRIFT_REPLAY_DEADLINE_MS} ms — ${last}`,
  })
}

c.onCommand((command) => {
  if (command.cmd !== 'policy-scene') return
  policyScene(String(command.onBehalfOf ?? '')).catch((err: unknown) =>
    c.emit({ kind: 'policy', step: 'failed', ok: false, detail: `policy scene: ${(err as Error).message}` }),
  )
})

/** One governed sub-task: begin under the planner's Txn-Token, call tool-api, end, replay. */
async function governed(req: IncomingMessage, parentTxnToken: string): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'https://executor')
  const run = Number(url.searchParams.get('run') ?? 0)
  const failMidway = url.searchParams.get('fail') === 'midway'
  const task = await beginTask(c, run, `run ${run}: act on the findings`, { parentTxnToken })
  let endedAt: number | undefined
  try {
    const headers = await taskHeaders(c, task)
    const use = (step: string) => () => callTool(c, toolApiUrl, `/tool?run=${run}&step=${step}`, headers)
    const first = await use('1')()
    if (first.status !== 200)
      throw new Error(`tool-api answered ${first.status}: ${String(first.body.error)}`)
    if (!failMidway) {
      endedAt = await endTask(c, run, task, 'completed')
      await replayUntilRefused(c, run, endedAt, use('replay'))
      return { status: 200, body: { result: first.body.result } }
    }
    const second = await callTool(c, toolApiUrl, `/tool?run=${run}&step=2&fail=1`, headers)
    const why = `step 2: tool-api answered ${second.status}: ${String(second.body.error)}`
    c.emit({ kind: 'notice', text: `${why}; ending the sub-task as failed` })
    endedAt = await endTask(c, run, task, 'failed')
    await replayUntilRefused(c, run, endedAt, use('2-retry'))
    return { status: 502, body: { error: `executor: ${why}` } }
  } catch (err) {
    if (endedAt === undefined) await endTask(c, run, task, 'failed')
    return { status: 502, body: { error: `executor: ${(err as Error).message}` } }
  }
}

await serveHttps(c, {
  authorizer: authorizeId(c.idOf('researcher')),
  accepts: 'researcher only',
  handle: async (req, _peer, ownSerial) => {
    const parentTxnToken = txnTokenOf(req.headers)
    if (parentTxnToken !== undefined) return governed(req, parentTxnToken)
    const task = new URL(req.url ?? '/', 'https://executor').searchParams.get('task') ?? '?'
    const target = `tool-api (task ${task})`
    try {
      const { token, expiresAt } = await jwt.fetchJwtSvid({ audience: ['tool-api'] })
      if (token !== lastToken) {
        lastToken = token
        const until = expiresAt.toISOString().slice(11, 19)
        c.emit({
          kind: 'notice',
          text: `new JWT-SVID for audience "tool-api" from the agent, expires ${until}`,
        })
      }
      const r = await callHttps(c, `${toolApiUrl}/tool?task=${encodeURIComponent(task)}`, isToolApi, {
        authorization: `Bearer ${token}`,
      })
      if (r.status !== 200) throw new Error(`tool-api answered ${r.status}: ${String(r.body.error)}`)
      const hops = [...((r.body.hops as Hop[]) ?? []), { component: c.name, serial: ownSerial }]
      c.emit({ kind: 'request', ok: true, target, detail: 'JWT-SVID accepted', hops })
      if (!probed) {
        probed = true
        void wrongAudience()
      }
      return { status: 200, body: { result: r.body.result, hops } }
    } catch (err) {
      const detail = (err as Error).message
      c.emit({ kind: 'request', ok: false, target, detail })
      return { status: 502, body: { error: `executor: ${detail}` } }
    }
  },
})
