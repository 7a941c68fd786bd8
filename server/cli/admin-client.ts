/**
 * The CLI's client for the admin API on the server's Unix socket: one promise-returning
 * `call` per RPC, typed from the generated service definition, with a deadline. A failed
 * call rejects with `AdminCallError` (admin-call-error.ts, re-exported here) carrying the gRPC
 * status and, when the server sent one, the stable Sigil error code; `exitCodeForStatus`
 * turns it into the exit code every admin subcommand uses. The admin verbs import this module
 * only when they run, so `--help` and usage errors answer without loading gRPC.
 *
 * Trust: the server is whoever owns the socket path; the CLI sends it requests (never a
 * private key) and prints what it answers.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import { type AdminAPIDefinition, loadAdminApi } from '../../proto/loader.js'
import { AdminCallError } from './admin-call-error.js'

export { AdminCallError, exitCodeForStatus } from './admin-call-error.js'

/** Deadline of one admin call. */
export const ADMIN_CALL_TIMEOUT_MS = 30_000
/** Largest answer the CLI accepts (entry and SVID listings can be long). */
export const ADMIN_MAX_RECEIVE_BYTES = 64 * 1024 * 1024

/** An admin API method name, e.g. `CreateEntry`. */
export type AdminMethod = keyof AdminAPIDefinition & string
/** The request type of an admin method. */
export type AdminRequest<M extends AdminMethod> =
  AdminAPIDefinition[M] extends MethodDefinition<infer Req, infer _Res, infer _ReqOut, infer _ResOut>
    ? Req
    : never
/** The (decoded) response type of an admin method. */
export type AdminResponse<M extends AdminMethod> =
  AdminAPIDefinition[M] extends MethodDefinition<infer _Req, infer _Res, infer _ReqOut, infer ResOut>
    ? ResOut
    : never

/**
 * A connection to the admin API.
 *
 * @example
 * const admin = AdminClient.open('/var/lib/sigil/private/admin.sock')
 * try { const { count } = await admin.call('CountEntries', {}) } finally { admin.close() }
 */
export class AdminClient {
  readonly socketPath: string
  readonly #client: Client
  readonly #service: AdminAPIDefinition

  private constructor(socketPath: string) {
    this.socketPath = socketPath
    this.#service = loadAdminApi().service
    this.#client = new Client(`unix:${socketPath}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': ADMIN_MAX_RECEIVE_BYTES,
    })
  }

  /** Opens a client for the socket; rejects at once (UNAVAILABLE) when no socket file exists there. */
  static open(socketPath: string): AdminClient {
    const path = resolve(socketPath)
    if (!existsSync(path)) {
      throw new AdminCallError(
        status.UNAVAILABLE,
        `admin socket ${path} does not exist (is sigil-server running? see --admin-socket)`,
      )
    }
    return new AdminClient(path)
  }

  /** Calls one admin method. */
  call<M extends AdminMethod>(method: M, request: AdminRequest<M>): Promise<AdminResponse<M>> {
    const def = this.#service[method] as unknown as MethodDefinition<
      AdminRequest<M>,
      unknown,
      unknown,
      AdminResponse<M>
    >
    return new Promise((done, fail) => {
      this.#client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        new Metadata(),
        { deadline: Date.now() + ADMIN_CALL_TIMEOUT_MS },
        (err, response) => {
          if (err) fail(this.#callError(err))
          else if (response === undefined)
            fail(new AdminCallError(status.INTERNAL, 'empty answer from the server'))
          else done(response)
        },
      )
    })
  }

  /** Closes the connection. */
  close(): void {
    this.#client.close()
  }

  #callError(err: ServiceError): AdminCallError {
    const code = err.code ?? status.UNKNOWN
    const sigilCode = err.metadata?.get('sigil-error-code')[0]
    const details = (err.details || err.message || 'call failed').split('\n')[0] ?? ''
    const errno = /\b(E[A-Z]{3,})\b/.exec(details)?.[1]
    const message =
      // the server answered UNAVAILABLE itself (its datastore is down): its message says so
      code === status.UNAVAILABLE && sigilCode === undefined
        ? `cannot reach the admin API at ${this.socketPath} (${errno ?? details}); is sigil-server running?`
        : code === status.DEADLINE_EXCEEDED
          ? `the admin API at ${this.socketPath} did not answer within ${ADMIN_CALL_TIMEOUT_MS / 1000}s`
          : details
    return new AdminCallError(code, message, typeof sigilCode === 'string' ? sigilCode : undefined)
  }
}
