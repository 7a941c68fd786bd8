/**
 * The narrow interfaces the agent API handlers consume (STYLE.md habit 7): the CA calls,
 * the datastore calls and the logger. `CaManager` and every `DataStore` satisfy them; tests
 * may pass anything that implements just these.
 */
import type { KeyObject } from 'node:crypto'
import type { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import type { MintedJwtSvid } from '../../../certs/jwtsvid/jwt-svid-signer.js'
import type { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import type { MintedWitSvid, WitSvidSignOptions } from '../../../certs/witsvid/wit-svid-signer.js'
import type { MintedX509Svid } from '../../../certs/x509svid/x509-svid-minter.js'
import type { Log } from '../../../common/logging/logger.js'
import type { ApprovalService } from '../../approval/approval-service.js'
import type { AuditSink } from '../../audit/audit-trail.js'
import type { DataStore } from '../../datastore/datastore.js'
import type { NodeAttestor } from '../../nodeattestation/node-attestor.js'
import type { PolicyStore } from '../../policy/policy-store.js'
import type { TaskService } from '../../task/task-service.js'
import type { AuthorizedEntryCache } from './authorized-entries.js'
import type { AgentCrlSource, AgentRevocationSource } from './revocation-updates.js'

/** What the agent API asks of the CA. */
export interface AgentApiCa {
  signX509Svid(req: {
    spiffeId: SpiffeId
    publicKey: KeyObject
    ttlSeconds: number
    dnsNames?: readonly string[]
    /** Agent SVIDs: the CA checks the SVID against the bundle before returning it. */
    validate?: boolean
  }): MintedX509Svid
  signJwtSvid(req: {
    spiffeId: SpiffeId
    audience: readonly string[]
    ttlSeconds: number
  }): Promise<MintedJwtSvid>
  signWitSvid(req: Omit<WitSvidSignOptions, 'now' | 'notAfterCap'>): MintedWitSvid
  /** The trust domain's current bundle (own trust domain). */
  currentBundle(): TrustBundle
  /** The active CA certificate followed by its issuers (without a self-signed root's duplicate). */
  caCertificateChain(): Buffer[]
  /** Every CA the server holds; their certificates may sit between an SVID and a bundle root. */
  authorities(): { readonly x509: readonly { readonly certDer?: Buffer }[] }
  /** `localauthority taint`: the tainted authorities, pushed to agents (optional: none without it). */
  taintedAuthorities?(): { x509: string[]; jwt: string[] }
  /** Calls `listener` after each taint or revoke; returns the unsubscribe function. */
  onTaintChange?(listener: (tainted: { x509: string[]; jwt: string[] }) => void): () => void
  /** Calls `listener` when the trust bundle's sequence moves (own rotation or another server's CA). */
  onBundleChange?(listener: (bundle: TrustBundle) => void): () => void
}

/** The datastore calls the agent API makes. */
export type AgentApiDataStore = Pick<
  DataStore,
  | 'consumeJoinToken'
  | 'listAuthorizedEntries'
  | 'entriesVersion'
  | 'createOrUpdateAttestedAgent'
  | 'getAttestedAgent'
  | 'updateAgentSvid'
  | 'touchAgent'
  | 'listBundles'
  | 'recordIssuedSvids'
  | 'listIssuedSvids'
  | 'getEntry'
>

/** Everything the handlers share. */
export interface AgentApiDeps {
  readonly trustDomain: TrustDomain
  readonly ca: AgentApiCa
  readonly datastore: AgentApiDataStore
  /** Node attestors by `AttestationParams.type`. */
  readonly attestors: ReadonlyMap<string, NodeAttestor>
  readonly logger: Log
  readonly clock: () => Date
  readonly agentSvidTtlSeconds: number
  readonly defaultX509SvidTtlSeconds: number
  readonly defaultJwtSvidTtlSeconds: number
  /** Longest an AttestAgent stream may take, challenge round trips included. */
  readonly attestTimeoutMs: number
  /** Task decisions; without it the task RPCs fail UNAVAILABLE. */
  readonly tasks?: TaskService
  /** The revocation list, pushed to agents (WatchAgentUpdates) and sent with each sync; RevokeExitedSvids adds to it. */
  readonly revocations: AgentRevocationSource
  /** The CRLs, pushed to agents for the Workload API's `crl` fields and sent with a sync when changed. */
  readonly crls: AgentCrlSource
  /**
   * Policy (issue 14): every signing request is checked against the set in force (the authority
   * has the last word), and the set is pushed to agents on WatchAgentUpdates. Absent: no policy.
   */
  readonly policies?: Pick<PolicyStore, 'point' | 'inForce' | 'onChange'>
  /** The audit trail: every SVID signed is recorded (durably, before release) and every signing refusal. */
  readonly audit?: AuditSink
  /** Human approvals (HoldForApproval); without it HoldForApproval fails UNAVAILABLE. */
  readonly approvals?: ApprovalService
  /**
   * Changes made through any server on the datastore (`server/cluster/change-fanout.ts`): entry
   * changes nudge agents on WatchAgentUpdates to sync at once. Absent: agents sync on their interval.
   */
  readonly changes?: { onEntriesChanged(listener: () => void): () => void }
}

/** The deps plus what the handlers share, built once by `createAgentApiHandlers`. */
export interface AgentApiContext extends AgentApiDeps {
  /** Each agent's authorized entries, cached by datastore entries version. */
  readonly authorized: AuthorizedEntryCache
}

/** Most CSRs accepted in one BatchNewX509Svid call. */
export const MAX_BATCH_SIZE = 500
/** Most audience values accepted for one JWT-SVID. */
export const MAX_JWT_AUDIENCES = 32
