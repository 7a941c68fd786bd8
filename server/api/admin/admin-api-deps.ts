/**
 * What the admin API handlers consume, declared narrowly (STYLE.md habit 7): the slice of
 * the CA manager and the datastore they call, a logger, a clock and the server defaults.
 * The real CaManager and SqliteDataStore satisfy these; tests may pass the real ones too.
 */
import type { KeyObject } from 'node:crypto'
import type { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import type { MintedJwtSvid } from '../../../certs/jwtsvid/jwt-svid-signer.js'
import type { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import type { MintedX509Svid } from '../../../certs/x509svid/x509-svid-minter.js'
import type { Log } from '../../../common/logging/logger.js'
import type { DataStore, RevocationRecord } from '../../datastore/datastore.js'
import type { FederationRefresher } from '../../federation/federation-refresher.js'
import type { RevocationList } from '../../revocation/revocation-list.js'
import type { TaskService } from '../../task/task-service.js'

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
  currentBundle(): TrustBundle
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
  /** Federation (issue 16 item 3): fetches a foreign bundle now; absent: `federation refresh` is UNAVAILABLE. */
  readonly federation?: Pick<FederationRefresher, 'refresh'>
}
