/**
 * Attested agents on SQLite: `attested_agents` plus one `agent_selectors` row per node
 * selector. Runs inside the transactions and error translation of `SqliteDataStore`.
 */
import { SigilError } from '../../../certs/errors.js'
import { normalizeSelectors } from '../../../certs/selector/selector.js'
import type { AttestationType, AttestedAgent, AttestedAgentFilter, AttestedAgentInput } from '../records.js'
import type { Sql } from './sql.js'

interface AgentRow {
  spiffe_id: string
  attestation_type: AttestationType
  serial_number: string
  expires_at: number
  previous_serial: string
  previous_expires_at: number | null
  banned: number
  last_seen: number
  created_at: number
  selectors: string
}

const SELECT_AGENT = `SELECT a.spiffe_id, a.attestation_type, a.serial_number, a.expires_at, a.previous_serial,
  a.previous_expires_at, a.banned, a.last_seen, a.created_at,
  (SELECT json_group_array(json_array(s.type, s.value)) FROM agent_selectors s WHERE s.agent_id = a.spiffe_id)
  AS selectors FROM attested_agents a`

// Never clears `banned`: a banned agent's row is left untouched (changes = 0). A re-attestation
// ends the renewal grace (no earlier SVID is acceptable after it).
const UPSERT_AGENT = `INSERT INTO attested_agents
  (spiffe_id, attestation_type, serial_number, expires_at, banned, last_seen, created_at)
  VALUES (@spiffeId, @attestationType, @serialNumber, @expiresAt, 0, @now, @now)
  ON CONFLICT (spiffe_id) DO UPDATE SET attestation_type = excluded.attestation_type,
  serial_number = excluded.serial_number, expires_at = excluded.expires_at, last_seen = excluded.last_seen,
  previous_serial = '', previous_expires_at = NULL
  WHERE attested_agents.banned = 0`

// A renewal (see DataStore.updateAgentSvid): the right-hand sides read the row before the update.
// Presented the current SVID → it becomes the previous one; presented the previous one (an earlier
// response was lost) → the previous stays; anything else → no previous.
const UPDATE_SVID = `UPDATE attested_agents SET serial_number = @serialNumber, expires_at = @expiresAt,
  previous_serial = CASE WHEN @replacing <> '' AND @replacing = serial_number THEN serial_number
    WHEN @replacing <> '' AND @replacing = previous_serial THEN previous_serial ELSE '' END,
  previous_expires_at = CASE WHEN @replacing <> '' AND @replacing = serial_number THEN expires_at
    WHEN @replacing <> '' AND @replacing = previous_serial THEN previous_expires_at ELSE NULL END
  WHERE spiffe_id = @spiffeId`

function toAgent(row: AgentRow): AttestedAgent {
  const pairs = JSON.parse(row.selectors) as [string, string][]
  return {
    spiffeId: row.spiffe_id,
    attestationType: row.attestation_type,
    serialNumber: row.serial_number,
    expiresAt: new Date(row.expires_at),
    previousSerialNumber: row.previous_serial,
    ...(row.previous_expires_at === null ? {} : { previousExpiresAt: new Date(row.previous_expires_at) }),
    banned: row.banned === 1,
    lastSeen: new Date(row.last_seen),
    selectors: normalizeSelectors(pairs.map(([type, value]) => ({ type, value }))),
    createdAt: new Date(row.created_at),
  }
}

function notFound(spiffeId: string): SigilError {
  return new SigilError('ERR_NOT_FOUND', `attested agent ${spiffeId} not found`)
}

function banned(spiffeId: string): SigilError {
  return new SigilError('ERR_AGENT_BANNED', `agent ${spiffeId} is banned`)
}

/** Agent queries; callers provide transactions and error translation. */
export class AgentTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Insert or re-attest (call inside a write transaction). */
  upsert(input: AttestedAgentInput, now: Date): AttestedAgent {
    const changed = this.#sql.run(UPSERT_AGENT, {
      spiffeId: input.spiffeId,
      attestationType: input.attestationType,
      serialNumber: input.serialNumber,
      expiresAt: input.expiresAt.getTime(),
      now: now.getTime(),
    })
    if (changed === 0) throw banned(input.spiffeId)
    this.#sql.run('DELETE FROM agent_selectors WHERE agent_id = @spiffeId', { spiffeId: input.spiffeId })
    const insert = this.#sql.statement(
      'INSERT INTO agent_selectors (agent_id, type, value) VALUES (@agentId, @type, @value)',
    )
    for (const s of input.selectors) insert.run({ agentId: input.spiffeId, type: s.type, value: s.value })
    return this.get(input.spiffeId)!
  }

  get(spiffeId: string): AttestedAgent | undefined {
    const row = this.#sql.get<AgentRow>(`${SELECT_AGENT} WHERE a.spiffe_id = @spiffeId`, { spiffeId })
    return row === undefined ? undefined : toAgent(row)
  }

  list(filter: AttestedAgentFilter = {}): AttestedAgent[] {
    if (filter.banned === undefined) {
      return this.#sql.all<AgentRow>(`${SELECT_AGENT} ORDER BY a.spiffe_id`).map(toAgent)
    }
    return this.#sql
      .all<AgentRow>(`${SELECT_AGENT} WHERE a.banned = @banned ORDER BY a.spiffe_id`, {
        banned: filter.banned ? 1 : 0,
      })
      .map(toAgent)
  }

  /** Records a renewed SVID (call inside a write transaction). */
  updateSvid(spiffeId: string, serialNumber: string, expiresAt: Date, replacing = ''): AttestedAgent {
    const current = this.get(spiffeId)
    if (current === undefined) throw notFound(spiffeId)
    if (current.banned) throw banned(spiffeId)
    this.#sql.run(UPDATE_SVID, { spiffeId, serialNumber, expiresAt: expiresAt.getTime(), replacing })
    return this.get(spiffeId)!
  }

  /** Ends the renewal grace while `currentSerial` is still current (inside a write transaction). */
  forgetPrevious(spiffeId: string, currentSerial: string): void {
    const n = this.#sql.run(
      `UPDATE attested_agents SET previous_serial = '', previous_expires_at = NULL
       WHERE spiffe_id = @spiffeId AND serial_number = @currentSerial`,
      { spiffeId, currentSerial },
    )
    if (n === 0 && this.get(spiffeId) === undefined) throw notFound(spiffeId)
  }

  touch(spiffeId: string, now: Date): void {
    const n = this.#sql.run('UPDATE attested_agents SET last_seen = @now WHERE spiffe_id = @spiffeId', {
      spiffeId,
      now: now.getTime(),
    })
    if (n === 0) throw notFound(spiffeId)
  }

  delete(spiffeId: string): void {
    if (this.#sql.run('DELETE FROM attested_agents WHERE spiffe_id = @spiffeId', { spiffeId }) === 0) {
      throw notFound(spiffeId)
    }
  }

  ban(spiffeId: string): void {
    const n = this.#sql.run(
      `UPDATE attested_agents SET banned = 1, serial_number = '', previous_serial = '', previous_expires_at = NULL
       WHERE spiffe_id = @spiffeId`,
      { spiffeId },
    )
    if (n === 0) throw notFound(spiffeId)
  }
}
