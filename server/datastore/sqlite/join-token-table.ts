/**
 * Join tokens on SQLite: `join_tokens` holds unused token hashes, `used_join_tokens` the
 * tombstones of consumed ones. Only hashes are ever seen here. Runs inside the
 * transactions and error translation of `SqliteDataStore`.
 */
import { SigilError } from '../../../certs/errors.js'
import type { ConsumeOutcome } from '../join-token-outcome.js'
import type { JoinTokenInput } from '../records.js'
import type { Sql } from './sql.js'

/** Join token queries; callers provide transactions and error translation. */
export class JoinTokenTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Stores a hash (call inside a write transaction); refuses a hash already consumed. */
  create(input: JoinTokenInput, now: Date): void {
    const used = this.#sql.get('SELECT 1 AS x FROM used_join_tokens WHERE token_hash = @h', {
      h: input.tokenHash,
    })
    if (used !== undefined)
      throw new SigilError('ERR_TOKEN_USED', 'a join token with this hash was already used')
    this.#sql.run(
      `INSERT INTO join_tokens (token_hash, spiffe_id, expires_at, created_at)
       VALUES (@tokenHash, @spiffeId, @expiresAt, @createdAt)`,
      {
        tokenHash: input.tokenHash,
        spiffeId: input.spiffeId,
        expiresAt: input.expiresAt.getTime(),
        createdAt: now.getTime(),
      },
    )
  }

  /**
   * Deletes the token if present and says what it was (call inside a write transaction):
   * a valid token leaves a tombstone; an expired one is just deleted.
   */
  consume(tokenHash: string, now: Date): ConsumeOutcome {
    const row = this.#sql.get<{ spiffe_id: string; expires_at: number }>(
      'SELECT spiffe_id, expires_at FROM join_tokens WHERE token_hash = @h',
      { h: tokenHash },
    )
    if (row === undefined) {
      const used = this.#sql.get('SELECT 1 AS x FROM used_join_tokens WHERE token_hash = @h', {
        h: tokenHash,
      })
      return { kind: used === undefined ? 'unknown' : 'used' }
    }
    this.#sql.run('DELETE FROM join_tokens WHERE token_hash = @h', { h: tokenHash })
    if (row.expires_at <= now.getTime()) return { kind: 'expired' }
    this.#sql.run(
      'INSERT INTO used_join_tokens (token_hash, used_at, expires_at) VALUES (@h, @usedAt, @expiresAt)',
      { h: tokenHash, usedAt: now.getTime(), expiresAt: row.expires_at },
    )
    return { kind: 'ok', spiffeId: row.spiffe_id }
  }

  /** Deletes expired tokens and tombstones (call inside a write transaction). */
  prune(now: Date): number {
    const t = now.getTime()
    const tokens = this.#sql.run('DELETE FROM join_tokens WHERE expires_at <= @t', { t })
    this.#sql.run('DELETE FROM used_join_tokens WHERE expires_at <= @t', { t })
    return tokens
  }
}
