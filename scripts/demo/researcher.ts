/**
 * Demo component `researcher`: an mTLS server that lets in only `planner`; for each task it
 * calls `executor` over mTLS, accepting only executor's SVID. It is the rogue copycat's
 * target: a copied planner certificate without planner's key gets no further than the
 * handshake, and its refusals are reported here.
 *
 * Entry: selected by `proc:script:<this file>` and the demo's uid (see run-demo.ts).
 */
import { authorizeId } from '../../sdk/index.js'
import { startComponent } from './component-runtime.js'
import type { Hop } from './demo-event.js'
import { callHttps, serveHttps } from './mtls-http.js'

const c = await startComponent('researcher')
const executorUrl = c.env('DEMO_EXECUTOR_URL')
const isExecutor = authorizeId(c.idOf('executor'))

await serveHttps(c, {
  authorizer: authorizeId(c.idOf('planner')),
  accepts: 'planner only',
  handle: async (req, _peer, ownSerial) => {
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
