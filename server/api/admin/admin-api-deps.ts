/**
 * What the admin API handlers consume, declared narrowly (STYLE.md habit 7): the slice of
 * the CA manager and the datastore they call, a logger, a clock and the server defaults.
 * The real CaManager and SqliteDataStore satisfy these; tests may pass the real ones too.
 */
import type { KeyObject } from 'node:crypto'
import type { ServerUnaryCall } from '@grpc/grpc-js'
import type { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import type { MintedJwtSvid } from '../../../certs/jwtsvid/jwt-svid-signer.js'
import type { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import type { MintedWitSvid, WitSvidSignOptions } from '../../../certs/witsvid/wit-svid-signer.js'
import type { MintedX509Svid } from '../../../certs/x509svid/x509-svid-minter.js'
import type { Log } from '../../../common/logging/logger.js'
import type { ApprovalService } from '../../approval/approval-service.js'
import type { AuditTrail } from '../../audit/audit-trail.js'
import type { CaManager } from '../../ca/ca-manager.js'
import type { DataStore, RevocationRecord } from '../../datastore/datastore.js'
import type { FederationRefresher } from '../../federation/federation-refresher.js'
import type { PolicyStore } from '../../policy/policy-store.js'
import type { RevocationList } from '../../revocation/revocation-list.js'
import type { TaskService } from '../../task/task-service.js'
import type { AdminCaller } from './audit-admin-calls.js'
import type { LogLevelControl } from './logger-level.js'

/** The CA operations the admin API uses (a subset of `CaManager`). */
export interface AdminCa {
  signX509Svid(req: {
    spiffeId: SpiffeId
    publicKey: KeyObject
    ttlSeconds: number
    dnsNames?: readonly string[]
  }): MintedX509Svid
  signJwtSvid(req: {
    spiffeId: SpiffeId
    audience: readonly string[]
    ttlSeconds: number
  }): Promise<MintedJwtSvid>
  signWitSvid(req: Omit<WitSvidSignOptions, 'now' | 'notAfterCap'>): MintedWitSvid
  currentBundle(): TrustBundle
  /** `localauthority ... show` */
  localAuthorities: CaManager['localAuthorities']
  /** `localauthority ... prepare|activate|taint|revoke` */
  changeLocalAuthority: CaManager['changeLocalAuthority']
  health(): { readonly ok: boolean; readonly consecutiveFailures: number; readonly lastError?: string }
}

/** The datastore operations the admin API uses. */
export type AdminDataStore = Pick<
  DataStore,
  | 'createEntry'
  | 'getEntry'
  | 'listEntries'
  | 'countEntries'
  | 'updateEntry'
  | 'deleteEntry'
  | 'getAttestedAgent'
  | 'listAttestedAgents'
  | 'deleteAttestedAgent'
  | 'banAttestedAgent'
  | 'createJoinToken'
  | 'recordIssuedSvids'
  | 'listIssuedSvids'
  | 'integrityCheck'
  | 'listTasks'
  | 'getTask'
  | 'listTaskCredentials'
  | 'listTaskEvents'
  | 'listApprovals'
  // federation (issue 16 item 3)
  | 'createFederationRelationship'
  | 'updateFederationRelationship'
  | 'getFederationRelationship'
  | 'listFederationRelationships'
  | 'deleteFederationRelationship'
  | 'getBundle'
  | 'setBundle'
  | 'listBundles'
  | 'deleteBundle'
>

/** The revocation operations the admin API uses (a subset of `RevocationList`). */
export type AdminRevocations = Pick<
  RevocationList,
  'revoke' | 'revokeSpiffeId' | 'get' | 'snapshot' | 'sequence' | 'isRevoked'
>

/** Everything the admin API handlers need, passed in once. */
export interface AdminApiDeps {
  readonly trustDomain: TrustDomain
  readonly datastore: AdminDataStore
  readonly ca: AdminCa
  readonly logger: Log
  readonly clock: () => Date
  /** Join token lifetime when a request says 0. */
  readonly joinTokenTtlSeconds: number
  /** X509-SVID lifetime when a mint request says 0. */
  readonly defaultX509SvidTtlSeconds: number
  /** JWT-SVID lifetime when a mint request says 0. */
  readonly defaultJwtSvidTtlSeconds: number
  /** Health: a problem line when storage cannot be written (a full disk); absent: not probed. */
  readonly storageProbe?: () => Promise<string | undefined>
  /** Task decisions (`task end`); without it `task end` fails UNAVAILABLE. */
  readonly tasks?: TaskService
  /** The server's revocation list (`svid revoke`, `revocation list`, revoked marks in `svid list`). */
  readonly revocations: AdminRevocations
  /**
   * `svid revoke --task-id`: revokes everything issued for a task (set by the task service);
   * absent: such a request is refused.
   */
  readonly revokeTask?: (
    taskId: string,
    reason: string,
  ) => Promise<{ sequence: number; revoked: RevocationRecord[] }>
  /** Human approvals (`approval approve|deny`); without it those fail UNAVAILABLE. */
  readonly approvals?: ApprovalService
  /**
   * The admin caller of a call (uid/pid/exe from the socket's peer credentials) for an approval's
   * `decided_by` and its audit record; absent or undefined: `admin`.
   */
  readonly adminCaller?: (call: ServerUnaryCall<unknown, unknown>) => AdminCaller | undefined
  /** Federation (issue 16 item 3): fetches a foreign bundle now; absent: `federation refresh` is UNAVAILABLE. */
  readonly federation?: Pick<FederationRefresher, 'refresh'>
  /** The audit trail read by `audit list|verify` and `svid explain`; absent: those fail UNAVAILABLE. */
  readonly audit?: Pick<AuditTrail, 'list' | 'verify'>
  /** The policy store (`policy set|show|history|test`); absent: those calls fail UNAVAILABLE. */
  readonly policies?: PolicyStore
  /** `logger get|set|reset`: the running logger's level; absent: those calls answer UNAVAILABLE. */
  readonly logLevel?: LogLevelControl
}
