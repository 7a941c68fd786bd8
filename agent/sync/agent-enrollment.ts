/**
 * How the agent gets its identity at start and after a refusal: reuse the stored agent SVID
 * while it is unexpired (a restart never spends the join token again); otherwise attest with
 * the configured credential, retrying while the server is unreachable, then persist the SVID and
 * bundle. A join token that already produced the stored (or a refused) identity is never sent
 * again. When no usable credential is left, it fails with `ERR_CONFIG_INVALID` saying what the
 * operator must supply. Trust: the stored files are parsed like untrusted input; a damaged file
 * is treated as absent.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { isSigilError, SigilError } from '../../certs/errors.js'
import type { Log } from '../../common/logging/logger.js'
import { retryDelayMs } from '../../common/loop/backoff.js'
import type { AgentIdentity } from './agent-identity.js'
import type { AgentIdentityStore, StoredIdentity } from './agent-identity-store.js'
import { credentialTag, type NodeCredential } from './node-credential.js'
import type { ServerClient } from './server-client.js'

/** A stored SVID with less than this left is not reused. */
export const MIN_REUSE_REMAINING_MS = 5_000
/** First pause between attestation attempts while the server is unreachable. */
export const ATTEST_RETRY_INITIAL_MS = 1_000
/** Longest pause between attestation attempts. */
export const ATTEST_RETRY_MAX_MS = 30_000

/** Everything enrollment needs. */
export interface AgentEnrollmentOptions {
  readonly store: AgentIdentityStore
  readonly client: Pick<ServerClient, 'attest' | 'useIdentity'>
  readonly credential: NodeCredential | undefined
  readonly logger: Log
  readonly clock?: () => Date
  readonly random?: () => number
}

/**
 * Obtains and keeps the agent's identity.
 *
 * @example
 * const enrollment = new AgentEnrollment({ store, client, credential, logger })
 * const identity = await enrollment.start(signal)
 */
export class AgentEnrollment {
  readonly #opts: AgentEnrollmentOptions
  readonly #clock: () => Date
  /** Tags of credentials already spent or refused (join tokens are single use). */
  readonly #spent = new Set<string>()
  #tag = ''

  constructor(opts: AgentEnrollmentOptions) {
    this.#opts = opts
    this.#clock = opts.clock ?? (() => new Date())
  }

  /** Tag of the credential that obtained the current identity ('' when unknown). */
  get credentialTag(): string {
    return this.#tag
  }

  /**
   * Looks at the stored identity without touching the network: resolves it when it is still
   * usable (and hands it to the client), else says why attestation is needed. Rejects
   * `ERR_CONFIG_INVALID` when attestation is needed but no unused credential is configured, so
   * that the agent refuses to start instead of failing later.
   */
  async prepare(): Promise<{ identity: AgentIdentity } | { attestBecause: string }> {
    const { store, logger } = this.#opts
    let stored: StoredIdentity | undefined
    try {
      stored = await store.loadIdentity()
    } catch (err) {
      logger.warn({ err: (err as Error).message, data_dir: store.dataDir }, 'stored agent SVID is unusable')
    }
    if (stored?.credentialTag) this.#spent.add(stored.credentialTag)
    if (stored) {
      const remaining = stored.identity.notAfter.getTime() - this.#clock().getTime()
      if (remaining >= MIN_REUSE_REMAINING_MS) {
        this.#tag = stored.credentialTag
        this.#opts.client.useIdentity(stored.identity)
        logger.info(
          {
            spiffe_id: stored.identity.spiffeId.toString(),
            serial: stored.identity.serial,
            expires_at: stored.identity.notAfter.toISOString(),
          },
          'reusing the stored agent SVID',
        )
        return { identity: stored.identity }
      }
      logger.warn({ expired_at: stored.identity.notAfter.toISOString() }, 'the stored agent SVID has expired')
    }
    const why = stored ? 'the stored agent SVID has expired' : 'this agent has no SVID yet'
    this.#checkCredential(why)
    return { attestBecause: why }
  }

  /** {@link prepare}, then attestation if needed. */
  async start(signal: AbortSignal): Promise<AgentIdentity> {
    const plan = await this.prepare()
    return 'identity' in plan ? plan.identity : this.attest(signal, plan.attestBecause)
  }

  /** Whether a credential is available that has not been spent. */
  canAttest(): boolean {
    const c = this.#opts.credential
    return c !== undefined && !(c.type === 'join_token' && this.#spent.has(credentialTag(c)))
  }

  /**
   * Attests with the configured credential (retrying while the server is unreachable), then
   * stores the result. `why` explains, in the error, why attestation was needed.
   */
  async attest(signal: AbortSignal, why: string): Promise<AgentIdentity> {
    const { store, client, logger } = this.#opts
    const credential = this.#checkCredential(why)
    const tag = credentialTag(credential)
    for (let failures = 0; ; ) {
      signal.throwIfAborted()
      try {
        const { identity, bundle } = await client.attest(credential)
        if (credential.type === 'join_token') this.#spent.add(tag)
        this.#tag = tag
        await store.saveIdentity(identity, tag)
        await store.saveBundle(bundle)
        logger.info(
          {
            spiffe_id: identity.spiffeId.toString(),
            attestation_type: credential.type,
            serial: identity.serial,
            expires_at: identity.notAfter.toISOString(),
          },
          'node attested',
        )
        return identity
      } catch (err) {
        if (!isSigilError(err, 'ERR_UNAVAILABLE')) {
          if (credential.type === 'join_token' && isSigilError(err, 'ERR_ATTESTATION_FAILED'))
            this.#spent.add(tag)
          throw err
        }
        failures++
        const delay = retryDelayMs(
          failures,
          ATTEST_RETRY_INITIAL_MS,
          ATTEST_RETRY_MAX_MS,
          (this.#opts.random ?? Math.random)(),
        )
        logger.warn({ err: err.message, retry_in_ms: delay }, 'node attestation: server unreachable')
        await sleep(delay, undefined, { signal })
      }
    }
  }

  #checkCredential(why: string): NodeCredential {
    const credential = this.#opts.credential
    if (!credential) {
      throw new SigilError(
        'ERR_CONFIG_INVALID',
        `${why} and no node credential is configured: give a new join token (--join-token-file or SIGIL_JOIN_TOKEN), or --x509pop-cert and --x509pop-key`,
      )
    }
    if (!this.canAttest()) {
      throw new SigilError(
        'ERR_CONFIG_INVALID',
        `${why} and the configured join token was already used (tokens work once): give a new join token (--join-token-file or SIGIL_JOIN_TOKEN)`,
      )
    }
    return credential
  }
}
