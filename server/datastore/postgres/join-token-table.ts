/**
 * Join tokens on PostgreSQL: `join_tokens` holds unused token hashes, `used_join_tokens` the
 * tombstones of consumed ones. Only hashes are ever seen here. Single use holds across servers:
 * the consuming DELETE takes the row lock, so of two transactions racing on one token exactly
 * one deletes it and the other then finds its tombstone.
 */
import { SigilError } from '../../../certs/errors.js'
import type { ConsumeOutcome } from '../join-token-outcome.js'
import type { JoinTokenInput } from '../records.js'
import type { Queryable } from './pg-sql.js'

async function isUsed(q: Queryable, tokenHash: string): Promise<boolean> {
  return (await q.one('SELECT 1 AS x FROM used_join_tokens WHERE token_hash = $1', [tokenHash])) !== undefined
}

/** Join token queries; callers provide transactions and error translation. */
export const joinTokenTable = {
  /** Stores a hash (inside a write transaction); refuses a hash already consumed. */
  async create(q: Queryable, input: JoinTokenInput, now: Date): Promise<void> {
    if (await isUsed(q, input.tokenHash)) {
      throw new SigilError('ERR_TOKEN_USED', 'a join token with this hash was already used')
    }
    await q.run(
      'INSERT INTO join_tokens (token_hash, spiffe_id, expires_at, created_at) VALUES ($1, $2, $3, $4)',
      [input.tokenHash, input.spiffeId, input.expiresAt.getTime(), now.getTime()],
    )
  },

  /**
   * Deletes the token if present and says what it was (inside a write transaction): a valid
   * token leaves a tombstone; an expired one is just deleted.
   */
  async consume(q: Queryable, tokenHash: string, now: Date): Promise<ConsumeOutcome> {
    const row = await q.one<{ spiffe_id: string; expires_at: number }>(
      'DELETE FROM join_tokens WHERE token_hash = $1 RETURNING spiffe_id, expires_at',
      [tokenHash],
    )
    if (row === undefined) return { kind: (await isUsed(q, tokenHash)) ? 'used' : 'unknown' }
    if (row.expires_at <= now.getTime()) return { kind: 'expired' }
    await q.run('INSERT INTO used_join_tokens (token_hash, used_at, expires_at) VALUES ($1, $2, $3)', [
      tokenHash,
      now.getTime(),
      row.expires_at,
    ])
    return { kind: 'ok', spiffeId: row.spiffe_id }
  },

  /** Deletes expired tokens and tombstones (inside a write transaction). */
  async prune(q: Queryable, now: Date): Promise<number> {
    const tokens = await q.run('DELETE FROM join_tokens WHERE expires_at <= $1', [now.getTime()])
    await q.run('DELETE FROM used_join_tokens WHERE expires_at <= $1', [now.getTime()])
    return tokens
  },
}
