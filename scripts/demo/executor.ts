/**
 * Demo component `executor`: an mTLS server that lets in only `researcher`; for each task it
 * calls `tool-api` over mTLS (accepting only tool-api's SVID) with a JWT-SVID for audience
 * `tool-api` from the SDK's JWTSource (reused until half its lifetime has passed). Once, after
 * its first successful call, it also sends tool-api a JWT-SVID minted for another audience,
 * which tool-api must refuse.
 *
 * Entry: selected by `proc:script:<this file>` and the demo's uid (see run-demo.ts).
 */
import { authorizeId } from '../../sdk/index.js'
import { startComponent } from './component-runtime.js'
import type { Hop } from './demo-event.js'
import { callHttps, serveHttps } from './mtls-http.js'

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

await serveHttps(c, {
  authorizer: authorizeId(c.idOf('researcher')),
  accepts: 'researcher only',
  handle: async (req, _peer, ownSerial) => {
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
