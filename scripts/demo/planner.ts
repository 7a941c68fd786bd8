/**
 * Demo component `planner`: the start of the pipeline. Every DEMO_INTERVAL_MS it sends a task
 * to `researcher` over mTLS (accepting only researcher's SVID); the answer names every hop and
 * the serial each presented, so rotations show up in the pipeline. It keeps its current
 * certificate chain (public, no key) in DEMO_SHARED_DIR/planner-cert.pem, the file the rogue
 * copycat copies. After its first successful task it makes three deliberate wrong-peer
 * attempts, each of which must be refused:
 * - it calls `executor` directly, skipping researcher (executor lets in researcher only);
 * - it calls `tool-api` with its own JWT-SVID for audience `tool-api` (only executor's counts);
 * - it dials tool-api's address expecting researcher (its own client refuses that server).
 *
 * Governed tasks, on the orchestrator's command (a stdin line with the user's JWT-SVID, which
 * never appears in argv or output): it begins a task on behalf of that user, sends its
 * Txn-Token to researcher (who hands it on to executor), and ends the task with the outcome:
 * completed when researcher answered, failed when a hop failed. Once the first task completed,
 * it sends its Txn-Token once more (a fourth deliberate attempt): researcher's sub-task under it
 * must be refused.
 *
 * Entry: selected by `proc:script:<this file>` and the demo's uid (see run-demo.ts).
 */
import { X509Certificate } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { authorizeId, TXN_TOKEN_HEADER } from '../../sdk/index.js'
import { startComponent } from './component-runtime.js'
import type { Hop } from './demo-event.js'
import { beginTask, endTask, GOVERNED_CALL_TIMEOUT_MS } from './governed-task.js'
import { callHttps } from './mtls-http.js'

const c = await startComponent('planner')
const researcherUrl = c.env('DEMO_RESEARCHER_URL')
const executorUrl = c.env('DEMO_EXECUTOR_URL')
const toolApiUrl = c.env('DEMO_TOOL_API_URL')
const certFile = join(c.env('DEMO_SHARED_DIR'), 'planner-cert.pem')
const intervalMs = Number(process.env.DEMO_INTERVAL_MS ?? 1000)
const isResearcher = authorizeId(c.idOf('researcher'))

const saveCertificate = (): void => {
  const pem = c.x509.getX509Svid().chainDer.map((der) => new X509Certificate(der).toString())
  writeFileSync(certFile, pem.join(''), { mode: 0o644 })
}
saveCertificate()
c.x509.onUpdate(saveCertificate)

/** Runs one attempt that must fail; reports whether it was refused and why. */
async function attempt(name: string, run: () => Promise<{ status: number; body: Record<string, unknown> }>) {
  try {
    const r = await run()
    const refused = r.status !== 200
    c.emit({ kind: 'attempt', name, refused, reason: `HTTP ${r.status}: ${String(r.body.error ?? 'ok')}` })
  } catch (err) {
    const code = (err as { code?: unknown }).code
    c.emit({ kind: 'attempt', name, refused: true, reason: `${(err as Error).message} (${String(code)})` })
  }
}

async function wrongPeers(): Promise<void> {
  await attempt('planner → executor directly, skipping researcher', () =>
    callHttps(c, `${executorUrl}/execute?task=skip`, authorizeId(c.idOf('executor'))),
  )
  await attempt('planner → tool-api with its own JWT-SVID for audience "tool-api"', async () => {
    const jwt = await c.jwt()
    const { token } = await jwt.fetchJwtSvid({ audience: ['tool-api'] })
    return callHttps(c, `${toolApiUrl}/tool?task=sneak`, authorizeId(c.idOf('tool-api')), {
      authorization: `Bearer ${token}`,
    })
  })
  await attempt("planner dials tool-api's address expecting researcher", () =>
    callHttps(c, `${toolApiUrl}/research?task=misrouted`, isResearcher),
  )
}

/** Governed task `run` on behalf of the user whose JWT-SVID is `onBehalfOf`. */
async function governed(run: number, onBehalfOf: string, failMidway: boolean): Promise<void> {
  const planned = failMidway ? 'failed' : 'completed'
  try {
    const purpose = failMidway ? `run ${run}: refund for the user` : `run ${run}: quarterly report`
    const task = await beginTask(c, run, purpose, { onBehalfOf })
    const query = `task=gov-${run}&run=${run}${failMidway ? '&fail=midway' : ''}`
    let detail: string
    let outcome: 'completed' | 'failed'
    try {
      const r = await callHttps(
        c,
        `${researcherUrl}/research?${query}`,
        isResearcher,
        { [TXN_TOKEN_HEADER]: task.txnToken },
        GOVERNED_CALL_TIMEOUT_MS,
      )
      outcome = r.status === 200 ? 'completed' : 'failed'
      detail = String(r.status === 200 ? r.body.result : r.body.error)
    } catch (err) {
      outcome = 'failed'
      detail = (err as Error).message
    }
    await endTask(c, run, task, outcome)
    if (!failMidway) {
      await attempt("planner reuses its ended task's Txn-Token for a new sub-task", () =>
        callHttps(c, `${researcherUrl}/research?task=gov-${run}-again&run=${run}`, isResearcher, {
          [TXN_TOKEN_HEADER]: task.txnToken,
        }),
      )
    }
    c.emit({ kind: 'governed', run, ok: outcome === planned, outcome, detail })
  } catch (err) {
    c.emit({ kind: 'governed', run, ok: false, outcome: 'error', detail: (err as Error).message })
  }
}
c.onCommand((command) => {
  if (command.cmd !== 'governed-task') return
  void governed(Number(command.run), String(command.onBehalfOf), command.failMidway === true)
})

let running = true
const loop = (async () => {
  let probed = false
  for (let task = 1; running; task++) {
    const started = Date.now()
    const target = `researcher (task ${task})`
    try {
      const r = await callHttps(c, `${researcherUrl}/research?task=${task}`, isResearcher)
      if (r.status !== 200) throw new Error(`researcher answered ${r.status}: ${String(r.body.error)}`)
      const hops = [...((r.body.hops as Hop[]) ?? []), { component: c.name, serial: r.ownSerial }]
      c.emit({ kind: 'request', ok: true, target, detail: String(r.body.result), hops })
      if (!probed) {
        probed = true
        await wrongPeers()
      }
    } catch (err) {
      c.emit({ kind: 'request', ok: false, target, detail: (err as Error).message })
    }
    await sleep(Math.max(0, intervalMs - (Date.now() - started)))
  }
})()
c.onStop(() => {
  running = false
  return loop
})
