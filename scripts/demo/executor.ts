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
 * Entry: selected by `proc:script:<this file>` and the demo's uid (see run-demo.ts).
 */
import type { IncomingMessage } from 'node:http'
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
