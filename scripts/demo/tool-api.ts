/**
 * Demo component `tool-api`: the tool service at the end of the pipeline. It serves HTTPS
 * over mTLS with its own X509-SVID and lets any workload of its trust domain connect; the
 * decision is the caller's JWT-SVID, which must validate (signature against the agent's JWT
 * bundle, expiry, audience `tool-api`) and name `executor` as its subject. Every other token
 * is refused with the reason. Why both: mTLS tells the caller it reached the real tool-api;
 * the JWT-SVID is the one credential a caller can forward through proxies that end TLS.
 *
 * Entry: selected by `proc:script:<this file>` and the demo's uid (see run-demo.ts).
 */
import { authorizeId, authorizeMemberOf, isSigilError } from '../../sdk/index.js'
import { startComponent } from './component-runtime.js'
import { serveHttps } from './mtls-http.js'

/** The audience tool-api answers to. */
const TOOL_API_AUDIENCE = 'tool-api'

const c = await startComponent('tool-api')
const jwt = await c.jwt()
const onlyExecutor = authorizeId(c.idOf('executor'))

await serveHttps(c, {
  authorizer: authorizeMemberOf(c.trustDomain),
  accepts: `any ${c.trustDomain} workload over mTLS, then only executor's JWT-SVID for audience "${TOOL_API_AUDIENCE}"`,
  handle: async (req, peer, ownSerial) => {
    const header = req.headers.authorization ?? ''
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : ''
    if (token === '') {
      const reason = 'no JWT-SVID (Authorization: Bearer …) on the request'
      c.emit({ kind: 'refused', layer: 'jwt', peer: peer.toString(), code: 'ERR_NOT_AUTHORIZED', reason })
      return { status: 401, body: { error: reason } }
    }
    try {
      const valid = await jwt.validateJwtSvid(token, TOOL_API_AUDIENCE)
      onlyExecutor(valid.spiffeId, [])
      c.emit({ kind: 'accepted', layer: 'jwt', peer: valid.spiffeId.toString() })
      return {
        status: 200,
        body: {
          result: `tool output for ${new URL(req.url ?? '/', 'https://tool-api').searchParams.get('task')}`,
          hops: [{ component: c.name, serial: ownSerial }],
        },
      }
    } catch (err) {
      if (!isSigilError(err)) throw err
      const status = err.code === 'ERR_NOT_AUTHORIZED' ? 403 : 401
      c.emit({ kind: 'refused', layer: 'jwt', peer: peer.toString(), code: err.code, reason: err.message })
      return { status, body: { error: err.message, code: err.code } }
    }
  },
})
