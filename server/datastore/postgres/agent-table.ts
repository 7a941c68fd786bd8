/**
 * Attested agents on PostgreSQL: `attested_agents` plus one `agent_selectors` row per node
 * selector. Runs inside the transactions and error translation of `PostgresDataStore`.
 */
import { SigilError } from '../../../certs/errors.js'
import { normalizeSelectors } from '../../../certs/selector/selector.js'
import type { AttestationType, AttestedAgent, AttestedAgentFilter, AttestedAgentInput } from '../records.js'
import type { Queryable } from './pg-sql.js'

interface AgentRow {
  spiffe_id: string
  attestation_type: AttestationType
  serial_number: string
  expires_at: number
  previous_serial: string
  previous_expires_at: number | null
  banned: boolean
  last_seen: number
  created_at: number
  selectors: [string, string][]
}

const SELECT_AGENT = `SELECT a.spiffe_id, a.attestation_type, a.serial_number, a.expires_at, a.previous_serial,
  a.previous_expires_at, a.banned, a.last_seen, a.created_at,
  COALESCE((SELECT json_agg(json_build_array(s.type, s.value)) FROM agent_selectors s
    WHERE s.agent_id = a.spiffe_id), '[]'::json) AS selectors FROM attested_agents a`

// Never clears `banned`: a banned agent's row is left untouched (no row changed). A re-attestation
// ends the renewal grace (no earlier SVID is acceptable after it).
const UPSERT_AGENT = `INSERT INTO attested_agents
  (spiffe_id, attestation_type, serial_number, expires_at, banned, last_seen, created_at)
  VALUES ($1, $2, $3, $4, false, $5, $5)
  ON CONFLICT (spiffe_id) DO UPDATE SET attestation_type = excluded.attestation_type,
  serial_number = excluded.serial_number, expires_at = excluded.expires_at, last_seen = excluded.last_seen,
  previous_serial = '', previous_expires_at = NULL
  WHERE attested_agents.banned = false`

// A renewal (see DataStore.updateAgentSvid): the right-hand sides read the row before the update.
// Presented the current SVID ($4) → it becomes the previous one; presented the previous one (an
// earlier response was lost) → the previous stays; anything else → no previous.
const UPDATE_SVID = `UPDATE attested_agents SET serial_number = $2, expires_at = $3,
  previous_serial = CASE WHEN $4::text <> '' AND $4::text = serial_number THEN serial_number
    WHEN $4::text <> '' AND $4::text = previous_serial THEN previous_serial ELSE '' END,
  previous_expires_at = CASE WHEN $4::text <> '' AND $4::text = serial_number THEN expires_at
    WHEN $4::text <> '' AND $4::text = previous_serial THEN previous_expires_at ELSE NULL END
  WHERE spiffe_id = $1`

function toAgent(row: AgentRow): AttestedAgent {
  return {
    spiffeId: row.spiffe_id,
    attestationType: row.attestation_type,
    serialNumber: row.serial_number,
    expiresAt: new Date(row.expires_at),
    previousSerialNumber: row.previous_serial,
    ...(row.previous_expires_at === null ? {} : { previousExpiresAt: new Date(row.previous_expires_at) }),
    banned: row.banned,
    lastSeen: new Date(row.last_seen),
    selectors: normalizeSelectors(row.selectors.map(([type, value]) => ({ type, value }))),
    createdAt: new Date(row.created_at),
  }
}

function notFound(spiffeId: string): SigilError {
  return new SigilError('ERR_NOT_FOUND', `attested agent ${spiffeId} not found`)
}

function banned(spiffeId: string): SigilError {
  return new SigilError('ERR_AGENT_BANNED', `agent ${spiffeId} is banned`)
}

async function getAgent(q: Queryable, spiffeId: string, lock = false): Promise<AttestedAgent | undefined> {
  const row = await q.one<AgentRow>(
    `${SELECT_AGENT} WHERE a.spiffe_id = $1${lock ? ' FOR UPDATE OF a' : ''}`,
    [spiffeId],
  )
  return row === undefined ? undefined : toAgent(row)
}

/** Agent queries; callers provide transactions and error translation. */
export const agentTable = {
  /** Insert or re-attest (inside a write transaction). */
  async upsert(q: Queryable, input: AttestedAgentInput, now: Date): Promise<AttestedAgent> {
    const changed = await q.run(UPSERT_AGENT, [
      input.spiffeId,
      input.attestationType,
      input.serialNumber,
      input.expiresAt.getTime(),
      now.getTime(),
    ])
    if (changed === 0) throw banned(input.spiffeId)
    await q.run('DELETE FROM agent_selectors WHERE agent_id = $1', [input.spiffeId])
    await q.run(
      'INSERT INTO agent_selectors (agent_id, type, value) SELECT $1, * FROM unnest($2::text[], $3::text[])',
      [input.spiffeId, input.selectors.map((s) => s.type), input.selectors.map((s) => s.value)],
    )
    return (await getAgent(q, input.spiffeId))!
  },

  get: getAgent,

  async list(q: Queryable, filter: AttestedAgentFilter = {}): Promise<AttestedAgent[]> {
    const rows =
      filter.banned === undefined
        ? await q.rows<AgentRow>(`${SELECT_AGENT} ORDER BY a.spiffe_id`)
        : await q.rows<AgentRow>(`${SELECT_AGENT} WHERE a.banned = $1 ORDER BY a.spiffe_id`, [filter.banned])
    return rows.map(toAgent)
  },

  /** Records a renewed SVID (inside a write transaction; the row is locked first). */
  async updateSvid(
    q: Queryable,
    spiffeId: string,
    serialNumber: string,
    expiresAt: Date,
    replacing = '',
  ): Promise<AttestedAgent> {
    const current = await getAgent(q, spiffeId, true)
    if (current === undefined) throw notFound(spiffeId)
    if (current.banned) throw banned(spiffeId)
    await q.run(UPDATE_SVID, [spiffeId, serialNumber, expiresAt.getTime(), replacing])
    return (await getAgent(q, spiffeId))!
  },

  /** Ends the renewal grace while `currentSerial` is still current (one statement). */
  async forgetPrevious(q: Queryable, spiffeId: string, currentSerial: string): Promise<void> {
    const n = await q.run(
      `UPDATE attested_agents SET previous_serial = '', previous_expires_at = NULL
       WHERE spiffe_id = $1 AND serial_number = $2`,
      [spiffeId, currentSerial],
    )
    if (n === 0 && (await getAgent(q, spiffeId)) === undefined) throw notFound(spiffeId)
  },

  async touch(q: Queryable, spiffeId: string, now: Date): Promise<void> {
    const n = await q.run('UPDATE attested_agents SET last_seen = $2 WHERE spiffe_id = $1', [
      spiffeId,
      now.getTime(),
    ])
    if (n === 0) throw notFound(spiffeId)
  },

  async delete(q: Queryable, spiffeId: string): Promise<void> {
    if ((await q.run('DELETE FROM attested_agents WHERE spiffe_id = $1', [spiffeId])) === 0)
      throw notFound(spiffeId)
  },

  async ban(q: Queryable, spiffeId: string): Promise<void> {
    const n = await q.run(
      `UPDATE attested_agents SET banned = true, serial_number = '', previous_serial = '',
       previous_expires_at = NULL WHERE spiffe_id = $1`,
      [spiffeId],
    )
    if (n === 0) throw notFound(spiffeId)
  },
}
