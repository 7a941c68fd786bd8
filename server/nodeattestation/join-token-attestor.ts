/**
 * `join_token` node attestation: the agent presents a one-time secret an operator generated
 * with `sigil-server token generate`. The token is hashed (SHA-256, lowercase hex) and
 * consumed atomically in the datastore, so it works once: a second use is `ERR_TOKEN_USED`,
 * an unknown one `ERR_TOKEN_INVALID`, a late one `ERR_TOKEN_EXPIRED` (all PERMISSION_DENIED).
 *
 * Agent ID: the alias the operator gave the token, or else
 * `spiffe://<td>/sigil/agent/join_token/<token>` (as SPIRE does; the token is spent by then,
 * so showing it in the ID is harmless). Selectors: none — a join token says nothing about
 * the node, so join-token agents never match node-alias entries.
 */
import { createHash } from 'node:crypto'
import { SigilError } from '../../certs/errors.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { AttestationResult, NodeAttestor } from './node-attestor.js'

/** Tokens longer than this are refused without a datastore lookup. */
export const MAX_JOIN_TOKEN_BYTES = 512

/** The one datastore call this attestor makes. */
export interface JoinTokenStore {
  consumeJoinToken(tokenHash: string, now: Date): Promise<{ spiffeId: string }>
}

/**
 * The hash under which a join token is stored (lowercase hex SHA-256 of its UTF-8 bytes).
 *
 * @example
 * await datastore.createJoinToken({ tokenHash: joinTokenHash(token), spiffeId: '', expiresAt })
 */
export function joinTokenHash(token: string): string {
  if (typeof token !== 'string') throw new TypeError('join token must be a string')
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/**
 * Attests agents by join token.
 *
 * @example
 * const attestor = new JoinTokenAttestor({ trustDomain, store: datastore, clock: () => new Date() })
 * const { agentId } = await attestor.attest(Buffer.from(token), noChallenge)
 */
export class JoinTokenAttestor implements NodeAttestor {
  readonly type = 'join_token' as const
  readonly #trustDomain: TrustDomain
  readonly #store: JoinTokenStore
  readonly #clock: () => Date

  constructor(opts: { trustDomain: TrustDomain; store: JoinTokenStore; clock: () => Date }) {
    if (typeof opts?.store?.consumeJoinToken !== 'function') throw new TypeError('store must consume tokens')
    if (typeof opts.clock !== 'function') throw new TypeError('clock must be a function')
    this.#trustDomain = opts.trustDomain
    this.#store = opts.store
    this.#clock = opts.clock
  }

  async attest(payload: Buffer): Promise<AttestationResult> {
    if (!Buffer.isBuffer(payload)) throw new TypeError('payload must be a Buffer')
    if (payload.length === 0) throw new SigilError('ERR_TOKEN_INVALID', 'join token is empty')
    if (payload.length > MAX_JOIN_TOKEN_BYTES) {
      throw new SigilError('ERR_TOKEN_INVALID', `join token is longer than ${MAX_JOIN_TOKEN_BYTES} bytes`)
    }
    const token = payload.toString('utf8')
    // Printable ASCII only: nothing `token generate` makes, and nothing a log line could be bent by.
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new SigilError('ERR_TOKEN_INVALID', 'join token has characters outside printable ASCII')
    }
    const { spiffeId: alias } = await this.#store.consumeJoinToken(joinTokenHash(token), this.#clock())
    return { agentId: this.#agentId(alias, token), selectors: [] }
  }

  #agentId(alias: string, token: string): SpiffeId {
    try {
      if (!alias && !/^[A-Za-z0-9._-]+$/.test(token)) {
        throw new SigilError('ERR_SPIFFE_ID_INVALID', 'the token is not one SPIFFE ID path segment')
      }
      const id = alias
        ? SpiffeId.parse(alias)
        : SpiffeId.fromPath(this.#trustDomain, `/sigil/agent/join_token/${token}`)
      if (!id.memberOf(this.#trustDomain) || id.isTrustDomainId()) {
        throw new SigilError('ERR_SPIFFE_ID_INVALID', `"${id}" is not a workload ID of this trust domain`)
      }
      return id
    } catch (cause) {
      throw new SigilError(
        'ERR_ATTESTATION_FAILED',
        alias
          ? 'the join token alias is not a SPIFFE ID in this trust domain'
          : 'the join token cannot form an agent ID (use only A-Z a-z 0-9 . _ -, or give the token an alias)',
        { cause },
      )
    }
  }
}
