/**
 * The agent's connection to the server's agent API (gRPC over TLS; see `server-tls.ts` for how
 * the server is authenticated). It attests the node, renews the agent SVID, syncs the
 * authorized entries and bundles, and implements the cache's {@link SvidIssuer} (BatchNewX509Svid,
 * NewJwtSvid). Every call has a deadline. Failures are `SigilError`s: `ERR_UNAVAILABLE` when the
 * server cannot be reached (retry later), `ERR_NOT_AUTHORIZED` when it refuses the agent
 * (evicted, banned, stale SVID), `ERR_ATTESTATION_FAILED` when attestation is refused.
 *
 * Trust: the bundle the server is checked against only ever changes to a bundle received over a
 * channel that was itself authenticated (or, once, at insecure bootstrap, confirmed by
 * `insecure-bootstrap-probe.ts`). A new gRPC channel is made whenever the agent SVID or the
 * bundle's X.509 authorities change. The client holds state but stores nothing on disk.
 *
 * Several servers (`server-endpoints.ts` chooses): the agent attests once, to the first server
 * that answers, and then presents that SVID to whichever server it calls (they share one
 * datastore, and the bundle holds every server's CA, so the TLS check accepts any of them). A
 * call that finds its server not answering marks it down; the idempotent calls (sync, renewal,
 * SVID signing, bundle fetch, exited-SVID reports) are retried once at once on the next server.
 * One channel per server, made on first use.
 */
import { isIP } from 'node:net'
import type { CallOptions } from '@grpc/grpc-js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { isSigilError, SigilError } from '../../certs/errors.js'
import { generateKeyPair, type KeyType } from '../../certs/keys/keys.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { createCsr } from '../../certs/x509svid/csr.js'
import type { AgentUpdate__Output } from '../../proto/generated/sigil/agent/v1/AgentUpdate.js'
import { type AgentAPIClient, loadAgentApi } from '../../proto/loader.js'
import type {
  AuthorizedEntry,
  AuthorizedState,
  IssuedJwtSvid,
  IssuedX509Svid,
  SvidIssuer,
  X509SvidRequest,
} from '../cache/authorized-state.js'
import type { RevocationSet } from '../cache/revocation-set.js'
import { callUnary, type UnaryMethods } from './agent-api-calls.js'
import { type AgentIdentity, verifiedAgentIdentity } from './agent-identity.js'
import { runAttestation } from './attest-agent.js'
import { BundleMemo } from './bundle-memo.js'
import { fromGrpcError, grpcStatusOf } from './grpc-error.js'
import { confirmProbedServer, probeServerChain, splitHostPort } from './insecure-bootstrap-probe.js'
import type { NodeCredential } from './node-credential.js'
import {
  type CallPurpose,
  type FailoverReason,
  failoverReason,
  type ServerEndpoint,
  ServerEndpoints,
} from './server-endpoints.js'
import { serverChannelCredentials } from './server-tls.js'
import {
  authorizedStateFromWire,
  bundleFromWire,
  issuedX509SvidFromWire,
  revocationPieceFromWire,
} from './wire-conversion.js'

/** Deadline of each call unless configured otherwise. */
export const DEFAULT_CALL_TIMEOUT_MS = 15_000
/**
 * Deadline of a call to a server marked down (the sync finding out whether it is back) while
 * another server answers, when shorter than the call timeout: a server that does not answer at
 * all holds the sync this long, not a full call timeout, before the call is retried on the one
 * that answers. With every server down, calls keep the full timeout (a slow server can recover).
 */
export const PROBE_CALL_TIMEOUT_MS = 3_000

/**
 * Calls retried once on the next server when theirs does not answer: asking again has no effect
 * beyond the first answer (a second SVID signed for the same CSR or a new key, the same sync).
 */
export const RETRIED_ON_FAILOVER: ReadonlySet<keyof UnaryMethods> = new Set([
  'SyncAuthorizedEntries',
  'RenewAgent',
  'GetBundle',
  'BatchNewX509Svid',
  'NewJwtSvid',
  'NewWitSvid',
  'RevokeExitedSvids',
])

/** A nudge pushed by the server: something changed, sync now (see agent-update-watch.ts). */
export type SyncNudge =
  | { readonly kind: 'entries_changed'; readonly entriesVersion: string }
  | { readonly kind: 'bundle_changed'; readonly sequenceNumber: number }

/** Where pushed updates go (the agent's `RevocationSet`). */
export type UpdateTarget = Pick<RevocationSet, 'apply' | 'setCrls'> & {
  /** The policy in force (issue 14); absent: policy updates are ignored. */
  readonly setPolicy?: (update: { version: number; text: string; sha256: string }) => void
  /** The complete set of tainted authorities (`TaintedAuthorities.set`). */
  setTainted?(x509: readonly string[], jwt: readonly string[]): void
  /** Entries or the bundle changed at the server: sync soon. */
  nudge?(nudge: SyncNudge): void
}

/** What {@link ServerClient} is built from. */
export interface ServerClientOptions {
  /** `host:port` of the agent API (one server; or give `endpoints`). */
  readonly address?: string
  /** The servers to call (several: failover); built from `address` when absent. */
  readonly endpoints?: ServerEndpoints
  readonly trustDomain: TrustDomain
  /** Bundle to authenticate the server with (stored or `--trust-bundle`); absent for insecure bootstrap. */
  readonly bundle?: TrustBundle
  /** Allow attesting without a bundle (see `insecure-bootstrap-probe.ts`). */
  readonly insecureBootstrap?: boolean
  /** Key type of the agent SVID key (default ec-p256). */
  readonly keyType?: KeyType
  readonly callTimeoutMs?: number
  readonly clock?: () => Date
  /** The agent's revocation list: each sync sends its sequence and applies what comes back. */
  readonly revocations?: RevocationSet
}

/** What a successful attestation or renewal yields. */
export interface AttestationOutcome {
  readonly identity: AgentIdentity
  readonly bundle: TrustBundle
}

/**
 * A client of the agent API.
 *
 * @example
 * const client = new ServerClient({ address: '127.0.0.1:8081', trustDomain, bundle })
 * // or: new ServerClient({ endpoints: new ServerEndpoints({ addresses: ['a:8081', 'b:8081'] }), ... })
 * const { identity } = await client.attest({ type: 'join_token', token })
 * const state = await client.syncAuthorizedEntries()
 */
export class ServerClient implements SvidIssuer {
  readonly trustDomain: TrustDomain
  readonly #endpoints: ServerEndpoints
  readonly #insecureBootstrap: boolean
  readonly #keyType: KeyType
  readonly #timeoutMs: number
  readonly #clock: () => Date
  readonly #revocations: RevocationSet | undefined
  #bundle: TrustBundle | undefined
  #identity: AgentIdentity | undefined
  /** Mutual-TLS channels by server address. */
  readonly #clients = new Map<string, AgentAPIClient>()
  #Client: ReturnType<typeof loadAgentApi>['Client'] | undefined
  #closed = false
  readonly #bundles = new BundleMemo()
  /** The entries of the last sync, by ID (unchanged ones are reused by the next sync). */
  #entries: ReadonlyMap<string, AuthorizedEntry> = new Map()
  /** The last complete sync and the server's digest of it (sent back so an unchanged list is not resent). */
  #lastSync: { readonly digest: string; readonly state: AuthorizedState } | undefined

  constructor(opts: ServerClientOptions) {
    if (!opts.bundle && !opts.insecureBootstrap) {
      throw new TypeError('a bundle is required unless insecure bootstrap is allowed')
    }
    this.trustDomain = opts.trustDomain
    if (opts.endpoints) this.#endpoints = opts.endpoints
    else if (opts.address !== undefined) this.#endpoints = new ServerEndpoints({ addresses: [opts.address] })
    else throw new TypeError('a server address is required')
    this.#insecureBootstrap = opts.insecureBootstrap === true
    this.#keyType = opts.keyType ?? 'ec-p256'
    this.#timeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
    this.#clock = opts.clock ?? (() => new Date())
    this.#bundle = opts.bundle
    this.#revocations = opts.revocations
  }

  /** The servers this client calls and their health. */
  get endpoints(): ServerEndpoints {
    return this.#endpoints
  }

  /** The bundle the server is currently authenticated against. */
  get bundle(): TrustBundle | undefined {
    return this.#bundle
  }

  /** The agent SVID presented on mutual-TLS calls. */
  get identity(): AgentIdentity | undefined {
    return this.#identity
  }

  /** Presents `identity` from now on (a new channel is made). */
  useIdentity(identity: AgentIdentity): void {
    if (identity === this.#identity) return
    this.#identity = identity
    this.#resetChannel()
  }

  /** Authenticates the server against `bundle` from now on (a new channel if its roots changed). */
  useBundle(bundle: TrustBundle): void {
    if (bundle === this.#bundle) return
    if (!bundle.trustDomain.equals(this.trustDomain)) throw new TypeError('bundle of another trust domain')
    const old = this.#bundle
    this.#bundle = bundle
    const same =
      old !== undefined &&
      old.x509Authorities.length === bundle.x509Authorities.length &&
      old.x509Authorities.every((c) => bundle.hasX509Authority(c))
    if (!same) this.#resetChannel()
  }

  /**
   * Node attestation with `credential`: a fresh key pair and CSR, the AttestAgent exchange, and
   * checks of the SVID and bundle received. On success the client uses both.
   */
  async attest(credential: NodeCredential): Promise<AttestationOutcome> {
    const insecure = this.#bundle === undefined
    if (insecure && !this.#insecureBootstrap) throw new TypeError('no bundle to authenticate the server')
    const keys = await generateKeyPair(this.#keyType)
    const csr = await createCsr(keys)
    // Each server in turn until one answers (the credential is not spent where none answered).
    let last: unknown
    for (const endpoint of await this.#endpoints.candidates('call')) {
      try {
        const outcome = await this.#attestAt(endpoint.address, credential, keys, csr, insecure)
        this.#endpoints.markUp(endpoint)
        return outcome
      } catch (err) {
        const reason = failoverReason(err)
        if (reason === undefined) throw err
        this.#endpoints.markDown(endpoint, reason)
        last = err
      }
    }
    throw last
  }

  async #attestAt(
    address: string,
    credential: NodeCredential,
    keys: Awaited<ReturnType<typeof generateKeyPair>>,
    csr: Buffer,
    insecure: boolean,
  ): Promise<AttestationOutcome> {
    const probed = insecure
      ? await probeServerChain(address, this.trustDomain, { timeoutMs: this.#timeoutMs })
      : undefined
    // Attestation is server-authenticated TLS only: a channel without the agent SVID.
    const client = this.#newClient(address, false)
    try {
      const result = await runAttestation(client.AttestAgent(this.#options()), credential, csr)
      const now = this.#clock()
      const bundle = bundleFromWire(result.bundle, this.trustDomain)
      if (probed) confirmProbedServer(probed, this.trustDomain, bundle, now)
      const identity = verifiedAgentIdentity(
        result.svid?.cert_chain ?? [],
        keys.privateKey,
        this.trustDomain,
        bundle,
        now,
      )
      this.useBundle(bundle)
      this.useIdentity(identity)
      return { identity, bundle }
    } finally {
      client.close()
    }
  }

  /** Renews the agent SVID with a fresh key pair; on success the client presents the new one. */
  async renew(): Promise<AgentIdentity> {
    const keys = await generateKeyPair(this.#keyType)
    const csr = await createCsr(keys)
    const res = await this.#unary('RenewAgent', { csr }, 'agent SVID renewal')
    const bundle = this.#bundle
    if (!bundle) throw new SigilError('ERR_BUNDLE_NOT_FOUND', 'no bundle to verify the renewed SVID')
    const identity = verifiedAgentIdentity(
      res.svid?.cert_chain ?? [],
      keys.privateKey,
      this.trustDomain,
      bundle,
      this.#clock(),
    )
    this.useIdentity(identity)
    return identity
  }

  /**
   * The entries this agent may serve and the bundles; the client trusts the new bundle from now
   * on. A bundle byte-for-byte equal to the last sync's is the same `TrustBundle` object. When
   * the server says the entries and federated bundles are unchanged since the last sync, that
   * sync's `entries` array and `federatedBundles` map are returned again (the same objects),
   * with the bundle just received; and if the bundle is unchanged too, the very same state.
   */
  async syncAuthorizedEntries(): Promise<AuthorizedState> {
    const last = this.#lastSync
    const res = await this.#unary(
      'SyncAuthorizedEntries',
      {
        known_entries_digest: last?.digest ?? '',
        known_revocation_sequence: this.#revocations?.sequence ?? 0,
        known_crls_digest: this.#revocations?.crlsDigest ?? '',
      },
      'entry sync',
    )
    if (res.revocations && this.#revocations)
      this.#revocations.apply(revocationPieceFromWire(res.revocations))
    if (this.#revocations && res.crls_digest && res.crls_digest !== this.#revocations.crlsDigest) {
      this.#revocations.setCrls(res.crls, res.crls_digest)
    }
    const unchanged = res.unchanged && last !== undefined && res.entries_digest === last.digest
    try {
      let state: AuthorizedState
      if (unchanged) {
        const bundle = this.#bundles.decode(res.bundle, this.trustDomain)
        state = bundle === last.state.bundle ? last.state : { ...last.state, bundle }
      } else {
        if (res.unchanged) {
          throw new SigilError(
            'ERR_UNAVAILABLE',
            'the server called an entry list unchanged that this agent does not have',
          )
        }
        state = authorizedStateFromWire(
          res,
          this.trustDomain,
          (b, td) => this.#bundles.decode(b, td),
          this.#entries,
        )
        this.#entries = new Map(state.entries.map((e) => [e.id, e]))
      }
      this.#lastSync = res.entries_digest ? { digest: res.entries_digest, state } : undefined
      this.useBundle(state.bundle)
      return state
    } finally {
      this.#bundles.endRound(unchanged)
    }
  }

  /** The server's current bundle (also trusted from now on). */
  async getBundle(): Promise<TrustBundle> {
    const res = await this.#unary('GetBundle', {}, 'bundle fetch')
    const bundle = bundleFromWire(res.bundle, this.trustDomain)
    this.useBundle(bundle)
    return bundle
  }

  /** {@link SvidIssuer}: one X509-SVID per request, in request order. */
  async newX509Svids(requests: readonly X509SvidRequest[]): Promise<IssuedX509Svid[]> {
    if (requests.length === 0) return []
    const params = requests.map((r) => ({ entry_id: r.entryId, csr: r.csrDer }))
    const res = await this.#unary('BatchNewX509Svid', { params }, 'X509-SVID signing')
    if (res.results.length !== requests.length) {
      throw new SigilError(
        'ERR_SVID_INVALID',
        `asked for ${requests.length} SVIDs, got ${res.results.length}`,
      )
    }
    return requests.map((r, i) => {
      const result = res.results[i]!
      if (result.entry_id !== r.entryId) {
        throw new SigilError(
          'ERR_SVID_INVALID',
          `SVID ${i} is for entry "${result.entry_id}", not "${r.entryId}"`,
        )
      }
      return issuedX509SvidFromWire(r.entryId, result.svid)
    })
  }

  /** {@link SvidIssuer}: a JWT-SVID for one entry. */
  async newJwtSvid(entryId: string, audience: readonly string[]): Promise<IssuedJwtSvid> {
    const res = await this.#unary(
      'NewJwtSvid',
      { entry_id: entryId, audience: [...audience] },
      'JWT-SVID signing',
    )
    if (!res.token || !res.spiffe_id)
      throw new SigilError('ERR_JWT_INVALID', 'the server returned no JWT-SVID')
    return {
      token: res.token,
      spiffeId: res.spiffe_id,
      issuedAt: new Date(res.issued_at * 1000),
      expiresAt: new Date(res.expires_at * 1000),
    }
  }

  /** A WIT-SVID for one entry, bound to the workload key whose public JWK (with `alg`) is given. */
  async newWitSvid(entryId: string, publicKeyJwk: string): Promise<IssuedJwtSvid> {
    const res = await this.#unary(
      'NewWitSvid',
      { entry_id: entryId, public_key_jwk: publicKeyJwk },
      'WIT-SVID signing',
    )
    if (!res.token || !res.spiffe_id)
      throw new SigilError('ERR_JWT_INVALID', 'the server returned no WIT-SVID')
    return {
      token: res.token,
      spiffeId: res.spiffe_id,
      issuedAt: new Date(res.issued_at * 1000),
      expiresAt: new Date(res.expires_at * 1000),
    }
  }

  /** BeginTask for one of this agent's processes (the server decides). */
  beginTask(req: UnaryMethods['BeginTask'][0]): Promise<UnaryMethods['BeginTask'][1]> {
    return this.#unary('BeginTask', req, 'BeginTask')
  }

  /** A task JWT-SVID for one of this agent's processes. */
  fetchTaskJwtSvid(req: UnaryMethods['FetchTaskJwtSvid'][0]): Promise<UnaryMethods['FetchTaskJwtSvid'][1]> {
    return this.#unary('FetchTaskJwtSvid', req, 'FetchTaskJwtSvid')
  }

  /** Ends a task (for its process, or for the agent: expired, process_exited). */
  endTask(req: UnaryMethods['EndTask'][0]): Promise<UnaryMethods['EndTask'][1]> {
    return this.#unary('EndTask', req, 'EndTask')
  }

  /** Reports serials of exited processes (revoke-on-exit); the server revokes those it issued to this agent. */
  revokeExitedSvids(
    req: UnaryMethods['RevokeExitedSvids'][0],
  ): Promise<UnaryMethods['RevokeExitedSvids'][1]> {
    return this.#unary('RevokeExitedSvids', req, 'RevokeExitedSvids')
  }

  /**
   * Waits for a human approval of a held Authorize call (HoldForApproval): the call lasts up to
   * the hold's timeout plus a margin; `signal` cancels it (the workload went away).
   */
  async holdForApproval(
    req: UnaryMethods['HoldForApproval'][0],
    signal?: AbortSignal,
  ): Promise<UnaryMethods['HoldForApproval'][1]> {
    const seconds = Number(req.timeout_seconds ?? 0)
    const [endpoint] = await this.#endpoints.candidates('call')
    const deadline = new Date(Date.now() + seconds * 1000 + this.#timeoutMs)
    return new Promise((resolve, reject) => {
      let client: AgentAPIClient
      try {
        client = this.#mutualClient(endpoint!)
      } catch (e) {
        reject(e)
        return
      }
      const call = client.HoldForApproval(req, { deadline }, (err, res) => {
        signal?.removeEventListener('abort', cancel)
        if (err || !res) {
          const error = fromGrpcError(err ?? new Error('empty answer'), 'HoldForApproval')
          this.#noteOutcome(endpoint!, error)
          reject(error)
        } else {
          this.#endpoints.markUp(endpoint!)
          resolve(res)
        }
      })
      const cancel = (): void => call.cancel()
      signal?.addEventListener('abort', cancel, { once: true })
    })
  }

  /**
   * Opens the server's push stream (WatchAgentUpdates) from the revocation sequence held and
   * hands each revocation piece and CRL set to `target`; resolves when the stream ends cleanly or `signal`
   * aborts, rejects with the translated error otherwise. A new channel (new agent SVID or
   * roots) cancels it; the caller reconnects. The stream goes to the server calls go to now; a
   * server that breaks it is marked down, so the reconnection goes to another. When a server
   * preferred to the stream's one answers again (the home is back), the stream is ended and
   * this resolves `'moved'`: reconnect at once, it will go there.
   */
  async watchUpdates(target: UpdateTarget, signal: AbortSignal): Promise<'moved' | undefined> {
    const [endpoint] = await this.#endpoints.candidates('call')
    return new Promise((resolve, reject) => {
      let call: ReturnType<AgentAPIClient['WatchAgentUpdates']>
      try {
        call = this.#mutualClient(endpoint!).WatchAgentUpdates({
          revocation_sequence: this.#revocations?.sequence ?? 0,
        })
      } catch (e) {
        reject(e)
        return
      }
      const abort = () => call.cancel()
      signal.addEventListener('abort', abort, { once: true })
      let moved = false
      const stopWatching = this.#endpoints.whenRecovered((back) => {
        if (!moved && this.#endpoints.ranksBefore(back, endpoint!)) {
          moved = true
          call.cancel()
        }
      })
      const done = (err?: unknown) => {
        signal.removeEventListener('abort', abort)
        stopWatching()
        if (moved && !signal.aborted) resolve('moved')
        else if (err === undefined || signal.aborted) resolve(undefined)
        else {
          const error = fromGrpcError(err, 'agent update stream')
          this.#noteOutcome(endpoint!, error)
          reject(error)
        }
      }
      let answered = false
      call.on('data', (u: AgentUpdate__Output) => {
        if (!answered) {
          answered = true
          this.#endpoints.markUp(endpoint!)
        }
        if (u.revocations) target.apply(revocationPieceFromWire(u.revocations))
        else if (u.crls) target.setCrls(u.crls.crls, u.crls.digest)
        else if (u.policy)
          target.setPolicy?.({
            version: Number(u.policy.version),
            text: u.policy.text,
            sha256: u.policy.sha256,
          })
        else if (u.tainted_authorities) {
          target.setTainted?.(
            u.tainted_authorities.x509_authority_ids,
            u.tainted_authorities.jwt_authority_ids,
          )
        } else if (u.entries_changed) {
          target.nudge?.({ kind: 'entries_changed', entriesVersion: u.entries_changed.entries_version })
        } else if (u.bundle_changed) {
          target.nudge?.({ kind: 'bundle_changed', sequenceNumber: Number(u.bundle_changed.sequence_number) })
        }
      })
      call.on('error', (err) => done(err))
      call.on('end', () => done())
    })
  }

  /** Closes the channel; later calls fail `ERR_UNAVAILABLE`. */
  close(): void {
    this.#closed = true
    this.#resetChannel()
  }

  #options(timeoutMs = this.#timeoutMs): CallOptions {
    return { deadline: new Date(Date.now() + timeoutMs) }
  }

  #newClient(address: string, mutual: boolean): AgentAPIClient {
    if (this.#closed) throw new SigilError('ERR_UNAVAILABLE', 'the server client is closed')
    this.#Client ??= loadAgentApi().Client
    const creds = serverChannelCredentials({
      trustDomain: this.trustDomain,
      bundle: this.#bundle,
      ...(mutual && this.#identity ? { clientSvid: this.#identity } : {}),
      clock: this.#clock,
    })
    // SNI must not be an IP address (RFC 6066); the name is irrelevant to verification anyway,
    // which checks the SPIFFE ID, not the host name.
    const sni = isIP(splitHostPort(address).host)
      ? { 'grpc.ssl_target_name_override': this.trustDomain.name }
      : {}
    return new this.#Client(address, creds, {
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      // No channelz bookkeeping per call (SVID signing is on a new workload's critical path).
      'grpc.enable_channelz': 0,
      // grpc-js would otherwise wait up to 120 s between reconnection attempts; the sync loop
      // has its own backoff, so a server that comes back is noticed within seconds.
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5_000,
      ...sni,
    })
  }

  #resetChannel(): void {
    for (const client of this.#clients.values()) client.close()
    this.#clients.clear()
  }

  #mutualClient(endpoint: ServerEndpoint): AgentAPIClient {
    if (!this.#identity) throw new TypeError('the agent has no SVID yet: attest first')
    if (!this.#bundle) throw new TypeError('no bundle to authenticate the server')
    let client = this.#clients.get(endpoint.address)
    if (client === undefined) {
      client = this.#newClient(endpoint.address, true)
      this.#clients.set(endpoint.address, client)
    }
    return client
  }

  /** A failed call: its server is marked down if it did not answer, up if it answered (a refusal). */
  #noteOutcome(endpoint: ServerEndpoint, err: unknown): FailoverReason | undefined {
    const reason = failoverReason(err)
    if (reason !== undefined) this.#endpoints.markDown(endpoint, reason)
    else if (isSigilError(err) && grpcStatusOf(err.cause) !== undefined) this.#endpoints.markUp(endpoint)
    return reason
  }

  /**
   * One unary call to the preferred server; when it does not answer, it is marked down and an
   * idempotent call ({@link RETRIED_ON_FAILOVER}) is made once more, on the next server.
   */
  async #unary<M extends keyof UnaryMethods>(
    method: M,
    request: UnaryMethods[M][0],
    what: string,
  ): Promise<UnaryMethods[M][1]> {
    const purpose: CallPurpose = method === 'SyncAuthorizedEntries' ? 'sync' : 'call'
    const candidates = await this.#endpoints.candidates(purpose)
    const tries = RETRIED_ON_FAILOVER.has(method) ? 2 : 1
    let last: unknown
    for (const endpoint of candidates.slice(0, tries)) {
      try {
        // a probe of a down server is kept short only when a server that answers is next
        const probe = this.#endpoints.isDown(endpoint) && candidates.some((c) => !this.#endpoints.isDown(c))
        const timeout = probe ? Math.min(this.#timeoutMs, PROBE_CALL_TIMEOUT_MS) : this.#timeoutMs
        const res = await callUnary(
          this.#mutualClient(endpoint),
          method,
          request,
          this.#options(timeout),
          what,
        )
        this.#endpoints.markUp(endpoint)
        return res
      } catch (err) {
        if (this.#noteOutcome(endpoint, err) === undefined) throw err
        last = err
      }
    }
    throw last
  }
}
