/**
 * Registration entries on PostgreSQL: `registration_entries` plus one `entry_selectors` row per
 * selector. Runs inside the transactions and error translation of `PostgresDataStore`; inputs
 * arrive checked by `validated-data-store.ts`. The authorization crawl is one recursive query.
 */
import { randomUUID } from 'node:crypto'
import { SigilError } from '../../../certs/errors.js'
import { normalizeSelectors, type Selector } from '../../../certs/selector/selector.js'
import { entryFields } from '../record-rows.js'
import type {
  EntryFilter,
  EntryPatch,
  EntryRisk,
  RegistrationEntry,
  RegistrationEntryInput,
} from '../records.js'
import { applyEntryPatch, selectorSetKey } from '../validate-records.js'
import type { Queryable } from './pg-sql.js'

interface EntryRow {
  id: string
  spiffe_id: string
  parent_id: string
  x509_svid_ttl: number
  jwt_svid_ttl: number
  dns_names: string[]
  hint: string
  admin: boolean
  node: boolean
  federates_with: string[]
  revision_number: number
  created_at: number
  task_scopes: string[]
  max_task_ttl: number
  revoke_on_exit: boolean
  owner: string
  purpose: string
  risk: string
  entry_expiry: number
  selectors: [string, string][]
}

const SELECT_ENTRY = `SELECT e.id, e.spiffe_id, e.parent_id, e.x509_svid_ttl, e.jwt_svid_ttl, e.dns_names,
  e.hint, e.admin, e.node, e.federates_with, e.revision_number, e.created_at, e.task_scopes, e.max_task_ttl,
  e.revoke_on_exit, e.owner, e.purpose, e.risk, e.entry_expiry,
  COALESCE((SELECT json_agg(json_build_array(s.type, s.value)) FROM entry_selectors s WHERE s.entry_id = e.id),
    '[]'::json) AS selectors
  FROM registration_entries e`
const ORDER = 'ORDER BY e.created_at, e.seq'

/** Entries whose selectors include one of the pairs given as two arrays ($types, $values). */
function querySelectors(types: string, values: string): string {
  return `SELECT s.entry_id FROM entry_selectors s
    JOIN unnest(${types}::text[], ${values}::text[]) AS q(type, value) ON s.type = q.type AND s.value = q.value`
}

const BUMP_VERSION = "UPDATE sigil_counters SET value = value + 1 WHERE name = 'entries'"

function toEntry(row: EntryRow): RegistrationEntry {
  return {
    id: row.id,
    spiffeId: row.spiffe_id,
    parentId: row.parent_id,
    selectors: normalizeSelectors(row.selectors.map(([type, value]) => ({ type, value }))),
    x509SvidTtl: row.x509_svid_ttl,
    jwtSvidTtl: row.jwt_svid_ttl,
    dnsNames: row.dns_names,
    hint: row.hint,
    admin: row.admin,
    node: row.node,
    federatesWith: row.federates_with,
    revisionNumber: row.revision_number,
    createdAt: new Date(row.created_at),
    taskScopes: row.task_scopes,
    maxTaskTtl: row.max_task_ttl,
    revokeOnExit: row.revoke_on_exit,
    owner: row.owner,
    purpose: row.purpose,
    risk: row.risk as EntryRisk,
    entryExpiry: row.entry_expiry,
  }
}

/** The WHERE clause (from fixed fragments) and bound values for a filter. */
function where(filter: EntryFilter): { clause: string; params: unknown[] } {
  const parts: string[] = []
  const params: unknown[] = []
  const param = (v: unknown): string => {
    params.push(v)
    return `$${params.length}`
  }
  if (filter.spiffeId !== undefined) parts.push(`e.spiffe_id = ${param(filter.spiffeId)}`)
  if (filter.parentId !== undefined) parts.push(`e.parent_id = ${param(filter.parentId)}`)
  if (filter.node !== undefined) parts.push(`e.node = ${param(filter.node)}`)
  const sel = filter.selectors
  if (sel !== undefined) {
    const selectors = normalizeSelectors(sel.selectors)
    if (sel.match === 'exact') {
      parts.push(`e.selector_set = ${param(selectorSetKey(selectors))}`)
    } else if (!(sel.match === 'superset' && selectors.length === 0)) {
      // (every entry has a superset of the empty set)
      const q = querySelectors(param(selectors.map((s) => s.type)), param(selectors.map((s) => s.value)))
      if (sel.match === 'any') parts.push(`e.id IN (${q})`)
      else if (sel.match === 'superset') {
        parts.push(`e.id IN (${q} GROUP BY s.entry_id HAVING COUNT(*) = ${param(selectors.length)})`)
      } else {
        parts.push(`e.id IN (${q} GROUP BY s.entry_id
          HAVING COUNT(*) = (SELECT COUNT(*) FROM entry_selectors t WHERE t.entry_id = s.entry_id))`)
      }
    }
  }
  return { clause: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params }
}

function rowParams(id: string, e: RegistrationEntryInput, revisionNumber: number): unknown[] {
  return [
    id,
    e.spiffeId,
    e.parentId,
    selectorSetKey(e.selectors),
    e.x509SvidTtl,
    e.jwtSvidTtl,
    [...e.dnsNames],
    e.hint,
    e.admin,
    e.node,
    [...e.federatesWith],
    revisionNumber,
    [...(e.taskScopes ?? [])],
    e.maxTaskTtl ?? 0,
    e.revokeOnExit ?? false,
    e.owner ?? '',
    e.purpose ?? '',
    e.risk ?? '',
    e.entryExpiry ?? 0,
  ]
}

const INSERT_ENTRY = `INSERT INTO registration_entries (id, spiffe_id, parent_id, selector_set, x509_svid_ttl,
  jwt_svid_ttl, dns_names, hint, admin, node, federates_with, revision_number, task_scopes, max_task_ttl,
  revoke_on_exit, owner, purpose, risk, entry_expiry, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`
const UPDATE_ENTRY = `UPDATE registration_entries SET spiffe_id = $2, parent_id = $3, selector_set = $4,
  x509_svid_ttl = $5, jwt_svid_ttl = $6, dns_names = $7, hint = $8, admin = $9, node = $10, federates_with = $11,
  revision_number = $12, task_scopes = $13, max_task_ttl = $14, revoke_on_exit = $15,
  owner = $16, purpose = $17, risk = $18, entry_expiry = $19 WHERE id = $1`

async function insertSelectors(q: Queryable, entryId: string, selectors: readonly Selector[]): Promise<void> {
  await q.run(
    'INSERT INTO entry_selectors (entry_id, type, value) SELECT $1, * FROM unnest($2::text[], $3::text[])',
    [entryId, selectors.map((s) => s.type), selectors.map((s) => s.value)],
  )
}

async function getEntry(q: Queryable, id: string, lock = false): Promise<RegistrationEntry | undefined> {
  const row = await q.one<EntryRow>(`${SELECT_ENTRY} WHERE e.id = $1${lock ? ' FOR UPDATE OF e' : ''}`, [id])
  return row === undefined ? undefined : toEntry(row)
}

/** Entry queries; callers provide transactions and error translation. */
export const entryTable = {
  /** Inserts a checked entry with its selectors (inside a write transaction). */
  async create(q: Queryable, input: RegistrationEntryInput, now: Date): Promise<RegistrationEntry> {
    const id = input.id ?? randomUUID()
    if (input.id !== undefined) {
      // a caller-chosen ID (entry create --entry-id): one already taken is ERR_ENTRY_EXISTS
      const taken = await q.one('SELECT 1 FROM registration_entries WHERE id = $1', [id])
      if (taken !== undefined)
        throw new SigilError('ERR_ENTRY_EXISTS', `an entry with ID ${id} already exists`)
    }
    await q.run(INSERT_ENTRY, [...rowParams(id, input, 0), now.getTime()])
    await insertSelectors(q, id, input.selectors)
    await q.run(BUMP_VERSION)
    return { ...entryFields(input), id, revisionNumber: 0, createdAt: new Date(now.getTime()) }
  },

  get: getEntry,

  async list(q: Queryable, filter: EntryFilter = {}): Promise<RegistrationEntry[]> {
    const { clause, params } = where(filter)
    return (await q.rows<EntryRow>(`${SELECT_ENTRY} ${clause} ${ORDER}`, params)).map(toEntry)
  },

  async count(q: Queryable, filter: EntryFilter = {}): Promise<number> {
    const { clause, params } = where(filter)
    return (await q.one<{ n: number }>(`SELECT COUNT(*) AS n FROM registration_entries e ${clause}`, params))!
      .n
  },

  /** Applies a patch (inside a write transaction; the row is locked first). */
  async update(q: Queryable, id: string, patch: EntryPatch): Promise<RegistrationEntry> {
    const current = await getEntry(q, id, true)
    if (current === undefined) throw new SigilError('ERR_NOT_FOUND', `registration entry ${id} not found`)
    const next = applyEntryPatch(current, patch)
    const revisionNumber = current.revisionNumber + 1
    await q.run(UPDATE_ENTRY, rowParams(id, next, revisionNumber))
    await q.run('DELETE FROM entry_selectors WHERE entry_id = $1', [id])
    await insertSelectors(q, id, next.selectors)
    await q.run(BUMP_VERSION)
    return { ...entryFields(next), id, revisionNumber, createdAt: current.createdAt }
  },

  /** Deletes an entry; its selectors go with it (inside a write transaction). */
  async delete(q: Queryable, id: string): Promise<RegistrationEntry> {
    const current = await getEntry(q, id, true)
    if (current === undefined) throw new SigilError('ERR_NOT_FOUND', `registration entry ${id} not found`)
    await q.run('DELETE FROM registration_entries WHERE id = $1', [id])
    await q.run(BUMP_VERSION)
    return current
  },

  /** Deletes the entries expired at `now` (entry expiry ≤ now); resolves them (inside a write transaction). */
  async pruneExpired(q: Queryable, now: Date): Promise<RegistrationEntry[]> {
    const nowSeconds = Math.floor(now.getTime() / 1000)
    const expired = (
      await q.rows<EntryRow>(
        `${SELECT_ENTRY} WHERE e.entry_expiry > 0 AND e.entry_expiry <= $1 ${ORDER} FOR UPDATE OF e`,
        [nowSeconds],
      )
    ).map(toEntry)
    if (expired.length === 0) return []
    await q.run('DELETE FROM registration_entries WHERE id = ANY($1::text[])', [expired.map((e) => e.id)])
    await q.run(BUMP_VERSION)
    return expired
  },

  async listByParentIds(q: Queryable, parentIds: readonly string[]): Promise<RegistrationEntry[]> {
    if (parentIds.length === 0) return []
    const rows = await q.rows<EntryRow>(`${SELECT_ENTRY} WHERE e.parent_id = ANY($1::text[]) ${ORDER}`, [
      [...parentIds],
    ])
    return rows.map(toEntry)
  },

  /**
   * The authorization crawl (see `DataStore.listAuthorizedEntries`) as one recursive query: the
   * agent's ID and its node aliases' SPIFFE IDs, then every non-alias entry below them (UNION
   * drops what was reached before, so cycles end).
   */
  async listAuthorized(
    q: Queryable,
    agentId: string,
    agentSelectors: readonly Selector[],
    now: Date,
  ): Promise<RegistrationEntry[]> {
    // an expired entry (not pruned yet) matches and authorizes nothing, its children included
    const rows = await q.rows<EntryRow>(
      `WITH RECURSIVE agent_selectors(type, value) AS (SELECT * FROM unnest($2::text[], $3::text[])),
      aliases AS (
        SELECT a.spiffe_id FROM registration_entries a WHERE a.node AND (a.entry_expiry = 0 OR a.entry_expiry > $4)
          AND NOT EXISTS (
          SELECT 1 FROM entry_selectors s WHERE s.entry_id = a.id AND NOT EXISTS (
            SELECT 1 FROM agent_selectors g WHERE g.type = s.type AND g.value = s.value))),
      reached(id) AS (
        SELECT $1::text UNION SELECT spiffe_id FROM aliases
        UNION
        SELECT c.spiffe_id FROM registration_entries c JOIN reached r ON c.parent_id = r.id
          WHERE NOT c.node AND (c.entry_expiry = 0 OR c.entry_expiry > $4))
      ${SELECT_ENTRY} WHERE NOT e.node AND (e.entry_expiry = 0 OR e.entry_expiry > $4)
        AND e.parent_id IN (SELECT id FROM reached) ORDER BY e.created_at, e.id`,
      [
        agentId,
        agentSelectors.map((s) => s.type),
        agentSelectors.map((s) => s.value),
        Math.floor(now.getTime() / 1000),
      ],
    )
    return rows.map(toEntry)
  },

  /** The entries version (see `DataStore.entriesVersion`). */
  async version(q: Queryable): Promise<string> {
    const row = await q.one<{ value: number }>("SELECT value FROM sigil_counters WHERE name = 'entries'")
    return String(row?.value ?? 0)
  },

  /** Entries whose stored selector rows disagree with their selector set (for integrity checks). */
  async inconsistentIds(q: Queryable): Promise<string[]> {
    const rows = await q.rows<{ id: string; selector_set: string; selectors: [string, string][] }>(
      `SELECT e.id, e.selector_set, COALESCE((SELECT json_agg(json_build_array(s.type, s.value))
       FROM entry_selectors s WHERE s.entry_id = e.id), '[]'::json) AS selectors FROM registration_entries e`,
    )
    return rows
      .filter(
        (r) =>
          r.selectors.length === 0 ||
          selectorSetKey(r.selectors.map(([type, value]) => ({ type, value }))) !== r.selector_set,
      )
      .map((r) => r.id)
  },
}
