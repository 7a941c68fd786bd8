/**
 * Tasks for workloads (issue 13): begin a task at the local agent's Task API (same socket as the
 * Workload API), get JWT-SVIDs bound to it, end it. Every credential issued for a task dies with
 * it; the agent also ends it when this process exits or the deadline passes.
 *
 * Trust: as the Workload API client's — the agent identifies this process by the kernel, and the
 * server decides whether this identity may begin the task. The Txn-Token and the task JWT-SVIDs
 * are bearer credentials: send them only to the services in the task's scope, never log them.
 */
import { credentials, status as GrpcStatus, Metadata } from '@grpc/grpc-js'
import { SigilError } from '../certs/errors.js'
import { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
import { loadTaskApi, type TasksClient } from '../proto/loader.js'
import { grpcTarget, resolveEndpointAddress } from './endpoint-address.js'
import { grpcStatusOf, workloadApiError } from './workload-api-error.js'

/** How a task ended, as its process reports it. */
export type TaskOutcome = 'completed' | 'failed' | 'cancelled'

/** What {@link Task.begin} takes. */
export interface TaskBeginOptions {
  /** What the task is for (up to 256 bytes; goes into the Txn-Token's `tctx.purpose`). */
  readonly purpose: string
  /** The audiences the task may call; each must be one of the entry's task scopes. */
  readonly scope: readonly string[]
  /** Lifetime in seconds (0 or absent: the entry's maximum). */
  readonly ttl?: number
  /** A JWT-SVID (audience: this workload) or Txn-Token of the principal the task works for. */
  readonly onBehalfOf?: string
  /** The Txn-Token of the parent task (a sub-task). */
  readonly parentTxnToken?: string
  /** Which of this workload's SPIFFE IDs begins it (default: the first). */
  readonly spiffeId?: SpiffeId | string
  /** The agent socket (default: `SPIFFE_ENDPOINT_SOCKET`). */
  readonly socketPath?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Deadline of each call in ms; default 30000. */
  readonly timeoutMs?: number
}

type Method = 'BeginTask' | 'FetchTaskJWTSVID' | 'EndTask'

/**
 * One task of this workload.
 *
 * @example
 * const task = await Task.begin({ purpose: 'nightly report', scope: ['spiffe://example.org/tool-api'], ttl: 300 })
 * const jwt = await task.jwtFor('spiffe://example.org/tool-api')
 * await fetch(url, { headers: { authorization: `Bearer ${jwt}`, 'txn-token': task.txnToken } })
 * await task.end('completed')
 */
export class Task {
  /** The task ID (the Txn-Token's `txn`). */
  readonly id: string
  /** The Txn-Token, for the `Txn-Token` HTTP header. */
  readonly txnToken: string
  /** The deadline: no credential of the task outlives it. */
  readonly expiresAt: Date
  readonly spiffeId: SpiffeId
  readonly #client: TasksClient
  readonly #timeoutMs: number
  #ended = false

  private constructor(
    client: TasksClient,
    timeoutMs: number,
    res: { task_id: string; txn_token: string; expires_at: number; spiffe_id: string },
  ) {
    this.#client = client
    this.#timeoutMs = timeoutMs
    this.id = res.task_id
    this.txnToken = res.txn_token
    this.expiresAt = new Date(res.expires_at * 1000)
    this.spiffeId = SpiffeId.parse(res.spiffe_id)
  }

  /**
   * Begins a task. Rejects `ERR_NOT_AUTHORIZED` (no identity, the entry may not begin tasks, a
   * scope outside its task scopes, a delegation token that does not verify),
   * `ERR_INVALID_ARGUMENT` (bad input, TTL above the entry's maximum), `ERR_RESOURCE_EXHAUSTED`
   * (too many open tasks for this process) or `ERR_UNAVAILABLE`.
   */
  static async begin(opts: TaskBeginOptions): Promise<Task> {
    if (typeof opts?.purpose !== 'string') throw new TypeError('purpose must be a string')
    if (!Array.isArray(opts.scope) || !opts.scope.every((s) => typeof s === 'string')) {
      throw new TypeError('scope must be an array of strings')
    }
    const timeoutMs = opts.timeoutMs ?? 30_000
    const address = resolveEndpointAddress(opts.socketPath, opts.env ?? process.env)
    const client = new (loadTaskApi().Client)(grpcTarget(address), credentials.createInsecure())
    try {
      const res = await call<{ task_id: string; txn_token: string; expires_at: number; spiffe_id: string }>(
        client,
        timeoutMs,
        'BeginTask',
        {
          purpose: opts.purpose,
          scope: [...opts.scope],
          ttl_seconds: opts.ttl ?? 0,
          on_behalf_of: opts.onBehalfOf ?? '',
          parent_txn_token: opts.parentTxnToken ?? '',
          spiffe_id: opts.spiffeId === undefined ? '' : String(opts.spiffeId),
        },
      )
      return new Task(client, timeoutMs, res)
    } catch (e) {
      client.close()
      throw e
    }
  }

  /**
   * A JWT-SVID for `audience` (one of the task's scope values) with the task's `txn` (and `act`
   * when delegated), expiring by the deadline. Rejects `ERR_NOT_AUTHORIZED` for an audience
   * outside the scope, `ERR_TASK_ENDED` once the task has ended.
   */
  async jwtFor(audience: string): Promise<string> {
    if (typeof audience !== 'string' || audience === '')
      throw new TypeError('audience must be a non-empty string')
    if (this.#ended) throw new SigilError('ERR_TASK_ENDED', `task ${this.id} has ended`)
    const res = await call<{ token: string }>(this.#client, this.#timeoutMs, 'FetchTaskJWTSVID', {
      task_id: this.id,
      audience,
    })
    return res.token
  }

  /** Ends the task (default outcome `completed`); its credentials die with it. Ending twice is harmless. */
  async end(outcome: TaskOutcome = 'completed'): Promise<void> {
    if (this.#ended) return
    try {
      await call(this.#client, this.#timeoutMs, 'EndTask', { task_id: this.id, outcome })
    } catch (e) {
      if (!(e instanceof SigilError && e.code === 'ERR_TASK_ENDED')) throw e
    }
    this.#ended = true
    this.#client.close()
  }
}

function call<Res>(client: TasksClient, timeoutMs: number, method: Method, req: object): Promise<Res> {
  const md = new Metadata()
  md.set('workload.spiffe.io', 'true')
  return new Promise((resolve, reject) => {
    const fn = client[method].bind(client) as unknown as (
      r: object,
      m: Metadata,
      o: { deadline: Date },
      cb: (e: unknown, r: Res | undefined) => void,
    ) => void
    fn(req, md, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
      if (!err && res) return resolve(res)
      const status = grpcStatusOf(err)
      const override =
        status === GrpcStatus.FAILED_PRECONDITION
          ? { status, code: 'ERR_TASK_ENDED' as const }
          : status === GrpcStatus.RESOURCE_EXHAUSTED
            ? { status, code: 'ERR_RESOURCE_EXHAUSTED' as const }
            : undefined
      reject(workloadApiError(method, err ?? new Error('empty answer'), override))
    })
  })
}
