/**
 * The tool side of run-time authorization (issue 14 item 4): a tool server asks the local agent
 * "may this caller, in this task, do this to that" and gets allow or deny with the deciding
 * policy ids and reasons. The caller's credential is taken from the request: the
 * `Authorization: Bearer` JWT-SVID, the `Txn-Token` header, and (when there is no bearer token)
 * the TLS peer's certificate chain. The agent verifies them itself against its bundles and
 * revocation list and evaluates its Cedar policy set; nothing is decided here.
 *
 * Trust: the tool server is itself an attested workload (the agent identifies it by the kernel,
 * like any Workload API caller). A request held by an `@approval("required")` policy waits until
 * an operator decides (the agent's `--approval-timeout`, default 5 min); a hold that expires is
 * a deny (`ERR_NOT_AUTHORIZED`, reason "approval … expired").
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { credentials, status as GrpcStatus, Metadata } from '@grpc/grpc-js'
import { SigilError } from '../certs/errors.js'
import type { AuthorizeResponse__Output } from '../proto/generated/sigil/authz/v1/AuthorizeResponse.js'
import { type AuthorizerClient, loadAuthzApi } from '../proto/loader.js'
import { grpcTarget, resolveEndpointAddress } from './endpoint-address.js'
import { peerChainOf } from './tls-peer.js'
import { grpcStatusOf, workloadApiError } from './workload-api-error.js'

/** A Cedar resource: a Tool (by name), an Audience or an Identity (a SPIFFE ID). */
export interface AuthorizeResource {
  readonly type: 'Tool' | 'Audience' | 'Identity'
  readonly id: string
}

/** What {@link authorizeRequest} takes. */
export interface AuthorizeRequestOptions {
  /** A Cedar action of Sigil's schema; default `CallTool`. */
  readonly action?: string
  /** The resource; a string is a Tool name. */
  readonly resource: string | AuthorizeResource
  /** Request details for the policy (`context.request`): method, path, host, operation, amount, labels. */
  readonly context?: Readonly<Record<string, unknown>>
  /** The audience the caller's JWT-SVID must carry; default: one of this tool server's SPIFFE IDs. */
  readonly audience?: string
  /** Send the TLS peer's chain: default only when the request has no bearer token. */
  readonly useTlsPeer?: boolean
  /** The agent socket (default: `SPIFFE_ENDPOINT_SOCKET`). */
  readonly socketPath?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Deadline of the call in ms; default 3,600,000 (a held request waits for an operator). */
  readonly timeoutMs?: number
}

/** The agent's answer. */
export interface AuthorizationDecision {
  readonly allowed: boolean
  readonly decision: 'allow' | 'deny'
  /** The `@id`s of the deciding policies (`[]` for a default deny or a credential problem). */
  readonly policyIds: readonly string[]
  readonly reasons: readonly string[]
  /** The verified caller (absent when no credential verified). */
  readonly spiffeId?: string
  /** The caller's task (Txn-Token `txn`), if any. */
  readonly taskId?: string
  /** The approval that decided a held request, if any. */
  readonly approvalId?: string
}

const clients = new Map<string, AuthorizerClient>()

function clientFor(target: string): AuthorizerClient {
  let c = clients.get(target)
  if (c === undefined) {
    c = new (loadAuthzApi().Client)(target, credentials.createInsecure())
    clients.set(target, c)
  }
  return c
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name]
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '')
}

/**
 * Asks the local agent whether the caller of `req` may do `action` to `resource`. Resolves the
 * decision (a deny included); rejects `ERR_INVALID_ARGUMENT` (no credential in the request, bad
 * options), `ERR_NOT_AUTHORIZED` (this tool server has no identity; an approval that expired)
 * or `ERR_UNAVAILABLE`.
 *
 * @example
 * const d = await authorizeRequest(req, { resource: 'payments', context: { method: req.method, amount: 120 } })
 * if (!d.allowed) { res.writeHead(403).end(d.reasons.join('\n')); return }
 */
export async function authorizeRequest(
  req: IncomingMessage,
  opts: AuthorizeRequestOptions,
): Promise<AuthorizationDecision> {
  const resource = typeof opts.resource === 'string' ? { type: 'Tool', id: opts.resource } : opts.resource
  if (typeof resource?.id !== 'string' || resource.id === '') throw new TypeError('resource is required')
  const bearer = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization'))?.[1] ?? ''
  const txnToken = header(req, 'txn-token')
  const useTls = opts.useTlsPeer ?? bearer === ''
  const socket = req.socket as Partial<TLSSocket>
  const chain =
    useTls && typeof socket.getPeerCertificate === 'function'
      ? peerChainOf(socket.getPeerCertificate(true))
      : []
  if (bearer === '' && txnToken === '' && chain.length === 0)
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      'the request carries no credential (Bearer JWT-SVID, Txn-Token or TLS client certificate)',
    )
  const address = resolveEndpointAddress(opts.socketPath, opts.env ?? process.env)
  const client = clientFor(grpcTarget(address))
  const md = new Metadata()
  md.set('workload.spiffe.io', 'true')
  const res = await new Promise<AuthorizeResponse__Output>((resolve, reject) => {
    client.Authorize(
      {
        credentials: {
          jwt_svid: bearer,
          txn_token: txnToken,
          x509_svid_chain: chain,
          audience: opts.audience ?? '',
        },
        action: opts.action ?? '',
        resource: { type: resource.type, id: resource.id },
        context_json: opts.context === undefined ? '' : JSON.stringify(opts.context),
      },
      md,
      { deadline: new Date(Date.now() + (opts.timeoutMs ?? 3_600_000)) },
      (err, r) => {
        if (!err && r) return resolve(r)
        const status = grpcStatusOf(err)
        reject(
          workloadApiError(
            'Authorize',
            err ?? new Error('empty answer'),
            status === GrpcStatus.PERMISSION_DENIED ? { status, code: 'ERR_NOT_AUTHORIZED' } : undefined,
          ),
        )
      },
    )
  })
  const allowed = res.decision === 'allow'
  return {
    allowed,
    decision: allowed ? 'allow' : 'deny',
    policyIds: res.policy_ids,
    reasons: res.reasons,
    ...(res.spiffe_id ? { spiffeId: res.spiffe_id } : {}),
    ...(res.task_id ? { taskId: res.task_id } : {}),
    ...(res.approval_id ? { approvalId: res.approval_id } : {}),
  }
}

/**
 * Wraps a `node:http`/`https` handler: the handler runs only when the agent allows the request;
 * otherwise the answer is 403 with `{ error, reasons, policy_ids }` (400 without a credential,
 * 503 when the agent cannot be asked). `opts` may depend on the request.
 *
 * @example
 * http.createServer(withAuthorization((req, res) => res.end('paid'), { resource: 'payments' }))
 */
export function withAuthorization(
  handler: (
    req: IncomingMessage,
    res: ServerResponse,
    decision: AuthorizationDecision,
  ) => void | Promise<void>,
  opts: AuthorizeRequestOptions | ((req: IncomingMessage) => AuthorizeRequestOptions),
): RequestListener {
  return (req, res) => {
    const o = typeof opts === 'function' ? opts(req) : opts
    authorizeRequest(req, o)
      .then(async (d) => {
        if (d.allowed) return handler(req, res, d)
        answer(res, 403, { error: 'forbidden', reasons: d.reasons, policy_ids: d.policyIds })
      })
      .catch((e: unknown) => {
        if (res.headersSent) return
        const code = e instanceof SigilError ? e.code : ''
        const status = code === 'ERR_INVALID_ARGUMENT' ? 400 : code === 'ERR_NOT_AUTHORIZED' ? 403 : 503
        answer(res, status, {
          error: status === 503 ? 'unavailable' : 'forbidden',
          reasons: [(e as Error).message],
        })
      })
  }
}

function answer(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}
