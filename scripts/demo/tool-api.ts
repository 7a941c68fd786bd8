/**
 * Demo component `tool-api`: the tool service at the end of the pipeline. It serves HTTPS
 * over mTLS with its own X509-SVID and lets any workload of its trust domain connect; the
 * decision is the caller's JWT-SVID, which must validate (signature against the agent's JWT
 * bundle, expiry, audience `tool-api`) and name `executor` as its subject. Every other token
 * is refused with the reason. Why both: mTLS tells the caller it reached the real tool-api;
 * the JWT-SVID is the one credential a caller can forward through proxies that end TLS.
 *
 * A request with a `Txn-Token` header is a task request of the governed pipeline: its JWT-SVID
 * (audience: tool-api's SPIFFE ID) and Txn-Token must verify and agree, the caller must be
 * researcher or executor, and neither credential may be revoked (the agent's ValidateJWTSVID
 * refuses a revoked `jti` or `txn`); tool-api then reports the whole chain, principal first.
 * `?fail=1` makes the tool itself fail (HTTP 503), for the task that fails midway.
 *
 * `/payments` is the high-risk tool of the policy scene: after the JWT-SVID checks above,
 * tool-api asks the agent's decision point (`authorizeRequest`, action `CallTool`, resource
 * `payments`), which holds the call while a `@approval("required")` policy waits for an
 * operator; tool-api answers once the agent does (allowed: 200; denied or timed out: 403).
 *
 * Entry: selected by `proc:script:<this file>` and the demo's uid (see run-demo.ts).
 */
import type { IncomingMessage } from 'node:http'
import {
  authorizeId,
  authorizeMemberOf,
  authorizeRequest,
  isSigilError,
  SigilError,
  type VerifiedTaskRequest,
  verifyTaskRequest,
} from '../../sdk/index.js'
import { startComponent } from './component-runtime.js'
import { taskAudience, txnTokenOf } from './governed-task.js'
import { type Reply, serveHttps } from './mtls-http.js'

/** The audience tool-api answers to. */
const TOOL_API_AUDIENCE = 'tool-api'

const c = await startComponent('tool-api')
const jwt = await c.jwt()
const onlyExecutor = authorizeId(c.idOf('executor'))
const taskCallers = new Set([c.idOf('researcher'), c.idOf('executor')])

/**
 * The whole check of a task request, in one place: the agent validates the JWT-SVID
 * (signature, expiry, audience, and revocation of its `jti` and `txn`), then the SDK checks
 * both tokens, that they name the same task, that tool-api is in the task's scope, and reads
 * the actor chain.
 */
async function verifyTask(req: IncomingMessage, token: string): Promise<VerifiedTaskRequest> {
  await c.client.validateJwtSvid(token, taskAudience(c))
  const verified = await verifyTaskRequest(req.headers, { audience: taskAudience(c), bundles: jwt })
  if (!taskCallers.has(verified.caller.toString()))
    throw new SigilError('ERR_NOT_AUTHORIZED', `${verified.caller} may not call tool-api in a task`)
  return verified
}

async function taskRequest(
  req: IncomingMessage,
  token: string,
  peer: string,
  ownSerial: string,
): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'https://tool-api')
  const run = Number(url.searchParams.get('run') ?? 0)
  let v: VerifiedTaskRequest
  try {
    v = await verifyTask(req, token)
  } catch (err) {
    if (!isSigilError(err)) throw err
    c.emit({ kind: 'refused', layer: 'task', peer, code: err.code, reason: err.message })
    return { status: err.code === 'ERR_NOT_AUTHORIZED' ? 403 : 401, body: { error: err.message } }
  }
  const actors = v.actChain.map(String)
  c.emit({
    kind: 'chain',
    run,
    caller: v.caller.toString(),
    subject: v.task.subject,
    actors,
    taskId: v.task.id,
  })
  if (url.searchParams.get('fail') === '1')
    return { status: 503, body: { error: `the tool failed on ${url.pathname} (run ${run})` } }
  return {
    status: 200,
    body: { result: `tool output for run ${run}`, hops: [{ component: c.name, serial: ownSerial }] },
  }
}

/** How long tool-api waits for the agent's answer to a held `/payments` call. */
const PAYMENTS_TIMEOUT_MS = 10 * 60_000

/** The payments tool: the agent decides (and may hold the call for a human). */
async function payments(req: IncomingMessage, caller: string): Promise<Reply> {
  let allowed = false
  let why = ''
  try {
    const d = await authorizeRequest(req, {
      resource: 'payments',
      audience: TOOL_API_AUDIENCE,
      context: { method: req.method ?? 'GET', operation: 'transfer', amount: 120 },
      timeoutMs: PAYMENTS_TIMEOUT_MS,
    })
    allowed = d.allowed
    why = `${d.decision}: ${d.reasons.join('; ')}`
  } catch (err) {
    why = `refused: ${(err as Error).message}`
  }
  c.emit({
    kind: 'policy',
    step: 'authorize',
    ok: allowed,
    detail: `Authorize payments for ${caller} — ${why}`,
  })
  return allowed
    ? { status: 200, body: { result: 'payment of 120 EUR sent' } }
    : { status: 403, body: { error: why } }
}

await serveHttps(c, {
  authorizer: authorizeMemberOf(c.trustDomain),
  accepts:
    `any ${c.trustDomain} workload over mTLS, then only executor's JWT-SVID for audience ` +
    `"${TOOL_API_AUDIENCE}", or researcher's or executor's task credentials`,
  handle: async (req, peer, ownSerial): Promise<Reply> => {
    const header = req.headers.authorization ?? ''
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : ''
    if (token === '') {
      const reason = 'no JWT-SVID (Authorization: Bearer …) on the request'
      c.emit({ kind: 'refused', layer: 'jwt', peer: peer.toString(), code: 'ERR_NOT_AUTHORIZED', reason })
      return { status: 401, body: { error: reason } }
    }
    if (txnTokenOf(req.headers) !== undefined) return taskRequest(req, token, peer.toString(), ownSerial)
    try {
      const valid = await jwt.validateJwtSvid(token, TOOL_API_AUDIENCE)
      onlyExecutor(valid.spiffeId, [])
      c.emit({ kind: 'accepted', layer: 'jwt', peer: valid.spiffeId.toString() })
      if (new URL(req.url ?? '/', 'https://tool-api').pathname === '/payments')
        return await payments(req, valid.spiffeId.toString())
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
