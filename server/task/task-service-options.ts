/**
 * The options and collaborators of the task service (STYLE.md habit 7: the narrow interfaces it
 * consumes). `CaManager` and every `DataStore` satisfy them.
 */
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { MintedJwtSvid } from '../../certs/jwtsvid/jwt-svid-signer.js'
import type { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { MintedTxnToken, SignTxnTokenOptions } from '../../certs/txntoken/sign-txn-token.js'
import type { Log } from '../../common/logging/logger.js'
import type { AuditSink } from '../audit/audit-trail.js'
import type { DataStore, RegistrationEntry, TaskCredential, TaskRecord } from '../datastore/datastore.js'
import type { IsRevoked } from './delegation.js'

/** What the task service asks of the CA. */
export interface TaskCa {
  signTxnToken(req: Omit<SignTxnTokenOptions, 'trustDomain' | 'now' | 'notAfterCap'>): Promise<MintedTxnToken>
  signJwtSvid(req: {
    spiffeId: SpiffeId
    audience: readonly string[]
    ttlSeconds: number
    notAfterCap?: Date
    txn?: string
    actors?: readonly string[]
  }): Promise<MintedJwtSvid>
  currentBundle(): TrustBundle
}

/** The datastore calls the task service makes. */
export type TaskDataStore = Pick<
  DataStore,
  | 'createTask'
  | 'getTask'
  | 'listTasks'
  | 'endTask'
  | 'recordTaskCredential'
  | 'listTaskCredentials'
  | 'recordTaskEvent'
  | 'recordIssuedSvids'
>

/** How to build a {@link TaskService}. */
export interface TaskServiceOptions {
  readonly trustDomain: TrustDomain
  readonly ca: TaskCa
  readonly datastore: TaskDataStore
  readonly logger: Log
  readonly clock: () => Date
  readonly defaultJwtSvidTtlSeconds: number
  /** Revocation lookup for delegation tokens (default: nothing is revoked). */
  readonly isRevoked?: IsRevoked
  /** The audit trail: every task decision (its event trail) is also an audit record. */
  readonly audit?: AuditSink
}

/** Who asks: an agent on behalf of one of its processes. */
export interface TaskCaller {
  readonly agentId: string
  /** `pid:startTime` on the agent; `''` when the agent itself acts. */
  readonly processKey: string
}

/** A task-ended listener: gets the final record and every credential issued for the task. */
export type TaskEndedListener = (task: TaskRecord, issued: readonly TaskCredential[]) => void | Promise<void>

/** What {@link TaskService.begin} takes. */
export interface BeginTaskInput {
  readonly entry: RegistrationEntry
  readonly purpose: string
  readonly scope: readonly string[]
  readonly ttlSeconds: number
  readonly onBehalfOf: string
  readonly parentTxnToken: string
}
