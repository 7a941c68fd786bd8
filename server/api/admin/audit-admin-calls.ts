/**
 * Records every admin API call in the audit trail with its caller — the kernel's uid and pid
 * of the process on the other end of the admin socket, and its executable — what it asked
 * (request fields, without secrets), and how it ended. A call that mints an SVID is recorded
 * as that issuance (`x509_svid_issued` / `jwt_svid_issued`, with the serial or jti) and the SVID
 * is released only once the record is durable; if it cannot be recorded the call fails.
 * Any other call is answered after its record is written, or logged if it cannot be.
 */
import type { ServerUnaryCall, ServiceError, sendUnaryData } from '@grpc/grpc-js'
import { status } from '@grpc/grpc-js'
import { errorText } from '../../../common/errors/error-text.js'
import type { Log } from '../../../common/logging/logger.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { AuditEvent, AuditSink } from '../../audit/audit-trail.js'
import type { AuditDecision } from '../../datastore/datastore.js'
import { toGrpcError } from '../grpc-status.js'

/** Who called, from the admin socket's peer credentials. */
export interface AdminCaller {
  readonly uid: number
  readonly pid: number
  /** `/proc/<pid>/exe` at connect time; `''` when unreadable. */
  readonly exe: string
}

/** What {@link auditAdminCalls} needs. */
export interface AuditAdminCallsDeps {
  readonly audit: AuditSink
  /** The caller of a connection, by `call.getPeer()`. */
  readonly callerOf: (peer: string) => AdminCaller | undefined
  readonly logger: Log
}

type Unary = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void

/** What an issuing call's response says about the SVID it carries. */
function issued(
  method: string,
  res: unknown,
): Pick<AuditEvent, 'kind' | 'spiffeId' | 'serialOrJti'> | undefined {
  const r = res as Record<string, unknown> | null
  if (method === 'MintX509Svid') {
    const svid = r?.svid as { spiffe_id?: string; serial?: string } | undefined
    return { kind: 'x509_svid_issued', spiffeId: svid?.spiffe_id ?? '', serialOrJti: svid?.serial ?? '' }
  }
  if (method === 'MintJwtSvid') {
    // our own token, just signed: read its claims without verifying
    const token = typeof r?.token === 'string' ? r.token : ''
    let claims: { sub?: unknown; jti?: unknown } = {}
    try {
      claims = JSON.parse(
        Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'),
      ) as typeof claims
    } catch {
      // recorded without them
    }
    return {
      kind: 'jwt_svid_issued',
      spiffeId: typeof claims.sub === 'string' ? claims.sub : '',
      serialOrJti: typeof claims.jti === 'string' ? claims.jti : '',
    }
  }
  return undefined
}

/** The request's own subject fields, when it names a SPIFFE ID or a task. */
function subjectOf(req: unknown): Pick<AuditEvent, 'spiffeId' | 'taskId'> {
  const r = (typeof req === 'object' && req !== null ? req : {}) as Record<string, unknown>
  const entry = (typeof r.entry === 'object' && r.entry !== null ? r.entry : {}) as Record<string, unknown>
  const named = typeof r.spiffe_id === 'string' && r.spiffe_id !== '' ? r.spiffe_id : entry.spiffe_id
  const id = typeof named === 'string' ? named.slice(0, 2048) : ''
  const task = typeof r.task_id === 'string' ? r.task_id.slice(0, 256) : ''
  return { ...(id ? { spiffeId: id } : {}), ...(task ? { taskId: task } : {}) }
}

/**
 * Wraps every admin handler so each call is recorded (see the module comment).
 *
 * @example
 * server.addService(loadAdminApi().service, auditAdminCalls(createAdminApiHandlers(deps), { audit, callerOf, logger }))
 */
export function auditAdminCalls(handlers: AdminAPIHandlers, deps: AuditAdminCallsDeps): AdminAPIHandlers {
  const wrapped: Record<string, Unary> = {}
  for (const [method, handler] of Object.entries(handlers) as [string, Unary][]) {
    wrapped[method] = (call, callback) => {
      const caller = deps.callerOf(call.getPeer())
      handler(call, (err, res) => {
        const failed = err !== null && err !== undefined
        const issuance = failed ? undefined : issued(method, res)
        const decision: AuditDecision = failed ? 'deny' : 'allow'
        const e = err as Partial<ServiceError> | null | undefined
        const event: AuditEvent = {
          kind: 'admin_operation',
          decision,
          ...subjectOf(call.request),
          ...(issuance ?? {}),
          ...(caller ? { actor: caller } : {}),
          details: {
            method,
            request: call.request,
            ...(failed
              ? { error: { code: status[e?.code ?? status.UNKNOWN], message: e?.details ?? e?.message } }
              : {}),
          },
        }
        deps.audit.record(event).then(
          () => callback(err ?? null, res),
          (auditErr: unknown) => {
            if (issuance === undefined) {
              deps.logger.error({ method, err: errorText(auditErr) }, 'admin call could not be recorded')
              callback(err ?? null, res)
            } else {
              // no SVID leaves unrecorded
              callback(toGrpcError(auditErr, deps.logger, method))
            }
          },
        )
      })
    }
  }
  return wrapped as unknown as AdminAPIHandlers
}
