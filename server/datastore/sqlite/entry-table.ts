/**
 * Registration entries on SQLite: `registration_entries` plus one `entry_selectors` row per
 * selector. Runs inside the transactions and error translation of `SqliteDataStore`; inputs
 * arrive already checked by `validate-records.ts`.
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
import type { Params, Sql } from './sql.js'

interface EntryRow {
  id: string
  spiffe_id: string
  parent_id: string
  x509_svid_ttl: number
  jwt_svid_ttl: number
  dns_names: string
  hint: string
  admin: number
  node: number
  federates_with: string
  revision_number: number
  created_at: number
  task_scopes: string
  max_task_ttl: number
  revoke_on_exit: number
  owner: string
  purpose: string
  risk: string
  entry_expiry: number
  selectors: string
}

const SELECT_ENTRY = `SELECT e.id, e.spiffe_id, e.parent_id, e.x509_svid_ttl, e.jwt_svid_ttl, e.dns_names,
  e.hint, e.admin, e.node, e.federates_with, e.revision_number, e.created_at, e.task_scopes, e.max_task_ttl,
  e.revoke_on_exit, e.owner, e.purpose, e.risk, e.entry_expiry,
  (SELECT json_group_array(json_array(s.type, s.value)) FROM entry_selectors s WHERE s.entry_id = e.id) AS selectors
  FROM registration_entries e`
const ORDER = 'ORDER BY e.created_at, e.rowid'

// The filter's selectors as a table q(type, value), from one JSON parameter.
const QUERY_SELECTORS = `SELECT s.entry_id FROM entry_selectors s
  JOIN (SELECT json_extract(j.value, '$[0]') AS type, json_extract(j.value, '$[1]') AS value
        FROM json_each(@selectors) j) q ON s.type = q.type AND s.value = q.value`
const SELECTOR_CLAUSES = {
  exact: 'e.selector_set = @selectorSet',
  any: `e.id IN (${QUERY_SELECTORS})`,
  superset: `e.id IN (${QUERY_SELECTORS} GROUP BY s.entry_id HAVING COUNT(*) = @selectorCount)`,
  subset: `e.id IN (${QUERY_SELECTORS} GROUP BY s.entry_id
    HAVING COUNT(*) = (SELECT COUNT(*) FROM entry_selectors t WHERE t.entry_id = s.entry_id))`,
} as const

const INSERT_ENTRY = `INSERT INTO registration_entries (id, spiffe_id, parent_id, selector_set, x509_svid_ttl,
  jwt_svid_ttl, dns_names, hint, admin, node, federates_with, revision_number, created_at, task_scopes, max_task_ttl,
  revoke_on_exit, owner, purpose, risk, entry_expiry)
  VALUES (@id, @spiffeId, @parentId, @selectorSet, @x509SvidTtl, @jwtSvidTtl, @dnsNames, @hint, @admin, @node,
  @federatesWith, @revisionNumber, @createdAt, @taskScopes, @maxTaskTtl, @revokeOnExit, @owner, @purpose, @risk, @entryExpiry)`
const UPDATE_ENTRY = `UPDATE registration_entries SET spiffe_id = @spiffeId, parent_id = @parentId,
  selector_set = @selectorSet, x509_svid_ttl = @x509SvidTtl, jwt_svid_ttl = @jwtSvidTtl, dns_names = @dnsNames,
  hint = @hint, admin = @admin, node = @node, federates_with = @federatesWith, revision_number = @revisionNumber,
  task_scopes = @taskScopes, max_task_ttl = @maxTaskTtl, revoke_on_exit = @revokeOnExit,
  owner = @owner, purpose = @purpose, risk = @risk,
  entry_expiry = @entryExpiry
  WHERE id = @id`
const INSERT_SELECTOR = 'INSERT INTO entry_selectors (entry_id, type, value) VALUES (@entryId, @type, @value)'

function toEntry(row: EntryRow): RegistrationEntry {
  const pairs = JSON.parse(row.selectors) as [string, string][]
  return {
    id: row.id,
    spiffeId: row.spiffe_id,
    parentId: row.parent_id,
    selectors: normalizeSelectors(pairs.map(([type, value]) => ({ type, value }))),
    x509SvidTtl: row.x509_svid_ttl,
    jwtSvidTtl: row.jwt_svid_ttl,
    dnsNames: JSON.parse(row.dns_names) as string[],
    hint: row.hint,
    admin: row.admin === 1,
    node: row.node === 1,
    federatesWith: JSON.parse(row.federates_with) as string[],
    revisionNumber: row.revision_number,
    createdAt: new Date(row.created_at),
    taskScopes: JSON.parse(row.task_scopes) as string[],
    maxTaskTtl: row.max_task_ttl,
    revokeOnExit: row.revoke_on_exit === 1,
    owner: row.owner,
    purpose: row.purpose,
    risk: row.risk as EntryRisk,
    entryExpiry: row.entry_expiry,
  }
}

function selectorsParam(selectors: readonly Selector[]): string {
  return JSON.stringify(selectors.map((s) => [s.type, s.value]))
}

/** The WHERE clause (from fixed fragments) and bound values for a filter. */
function where(filter: EntryFilter): { clause: string; params: Params } {
  const parts: string[] = []
  const params: Params = {}
  if (filter.spiffeId !== undefined) {
    parts.push('e.spiffe_id = @spiffeId')
    params.spiffeId = filter.spiffeId
  }
  if (filter.parentId !== undefined) {
    parts.push('e.parent_id = @parentId')
    params.parentId = filter.parentId
  }
  if (filter.node !== undefined) {
    parts.push('e.node = @node')
    params.node = filter.node ? 1 : 0
  }
  const sel = filter.selectors
  if (sel !== undefined) {
    const selectors = normalizeSelectors(sel.selectors)
    if (sel.match === 'exact') {
      parts.push(SELECTOR_CLAUSES.exact)
      params.selectorSet = selectorSetKey(selectors)
    } else if (sel.match === 'superset' && selectors.length === 0) {
      // every entry has a superset of the empty set
    } else {
      parts.push(SELECTOR_CLAUSES[sel.match])
      params.selectors = selectorsParam(selectors)
      if (sel.match === 'superset') params.selectorCount = selectors.length
    }
  }
  return { clause: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params }
}

function rowParams(id: string, e: RegistrationEntryInput, revisionNumber: number): Params {
  return {
    id,
    spiffeId: e.spiffeId,
    parentId: e.parentId,
    selectorSet: selectorSetKey(e.selectors),
    x509SvidTtl: e.x509SvidTtl,
    jwtSvidTtl: e.jwtSvidTtl,
    dnsNames: JSON.stringify(e.dnsNames),
    hint: e.hint,
    admin: e.admin ? 1 : 0,
    node: e.node ? 1 : 0,
    federatesWith: JSON.stringify(e.federatesWith),
    revisionNumber,
    taskScopes: JSON.stringify(e.taskScopes ?? []),
    maxTaskTtl: e.maxTaskTtl ?? 0,
    revokeOnExit: e.revokeOnExit ? 1 : 0,
    owner: e.owner ?? '',
    purpose: e.purpose ?? '',
    risk: e.risk ?? '',
    entryExpiry: e.entryExpiry ?? 0,
  }
}

/** Entry queries; callers provide transactions and error translation. */
export class EntryTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  #insertSelectors(entryId: string, selectors: readonly Selector[]): void {
    const insert = this.#sql.statement(INSERT_SELECTOR)
    for (const s of selectors) insert.run({ entryId, type: s.type, value: s.value })
  }

  /** Inserts a checked entry with its selectors (call inside a write transaction). */
  create(input: RegistrationEntryInput, now: Date): RegistrationEntry {
    const id = input.id ?? randomUUID()
    if (input.id !== undefined && this.get(id) !== undefined) {
      throw new SigilError('ERR_ENTRY_EXISTS', `an entry with ID ${id} already exists`)
    }
    this.#sql.run(INSERT_ENTRY, { ...rowParams(id, input, 0), createdAt: now.getTime() })
    this.#insertSelectors(id, input.selectors)
    return { ...entryFields(input), id, revisionNumber: 0, createdAt: new Date(now.getTime()) }
  }

  get(id: string): RegistrationEntry | undefined {
    const row = this.#sql.get<EntryRow>(`${SELECT_ENTRY} WHERE e.id = @id`, { id })
    return row === undefined ? undefined : toEntry(row)
  }

  list(filter: EntryFilter = {}): RegistrationEntry[] {
    const { clause, params } = where(filter)
    return this.#sql.all<EntryRow>(`${SELECT_ENTRY} ${clause} ${ORDER}`, params).map(toEntry)
  }

  count(filter: EntryFilter = {}): number {
    const { clause, params } = where(filter)
    return this.#sql.get<{ n: number }>(`SELECT COUNT(*) AS n FROM registration_entries e ${clause}`, params)!
      .n
  }

  /** Applies a patch (call inside a write transaction). */
  update(id: string, patch: EntryPatch): RegistrationEntry {
    const current = this.get(id)
    if (current === undefined) throw new SigilError('ERR_NOT_FOUND', `registration entry ${id} not found`)
    const next = applyEntryPatch(current, patch)
    const revisionNumber = current.revisionNumber + 1
    this.#sql.run(UPDATE_ENTRY, rowParams(id, next, revisionNumber))
    this.#sql.run('DELETE FROM entry_selectors WHERE entry_id = @id', { id })
    this.#insertSelectors(id, next.selectors)
    return { ...entryFields(next), id, revisionNumber, createdAt: current.createdAt }
  }

  /** Deletes the entries expired at `now` (entry expiry ≤ now); resolves them (call inside a write transaction). */
  pruneExpired(now: Date): RegistrationEntry[] {
    const nowSeconds = Math.floor(now.getTime() / 1000)
    const expired = this.#sql
      .all<EntryRow>(`${SELECT_ENTRY} WHERE e.entry_expiry > 0 AND e.entry_expiry <= @now ${ORDER}`, {
        now: nowSeconds,
      })
      .map(toEntry)
    this.#sql.run('DELETE FROM registration_entries WHERE entry_expiry > 0 AND entry_expiry <= @now', {
      now: nowSeconds,
    })
    return expired
  }

  /** Deletes an entry; its selectors go with it (call inside a write transaction). */
  delete(id: string): RegistrationEntry {
    const current = this.get(id)
    if (current === undefined) throw new SigilError('ERR_NOT_FOUND', `registration entry ${id} not found`)
    this.#sql.run('DELETE FROM registration_entries WHERE id = @id', { id })
    return current
  }

  listByParentIds(parentIds: readonly string[]): RegistrationEntry[] {
    if (parentIds.length === 0) return []
    return this.#sql
      .all<EntryRow>(
        `${SELECT_ENTRY} WHERE e.parent_id IN (SELECT j.value FROM json_each(@parentIds) j) ${ORDER}`,
        {
          parentIds: JSON.stringify(parentIds),
        },
      )
      .map(toEntry)
  }

  /** The authorization crawl (see `DataStore.listAuthorizedEntries`); call inside a read transaction. */
  listAuthorized(agentId: string, agentSelectors: readonly Selector[], now: Date): RegistrationEntry[] {
    // an expired entry (not pruned yet) matches and authorizes nothing, its children included
    const nowSeconds = Math.floor(now.getTime() / 1000)
    const live = (e: RegistrationEntry) => !e.entryExpiry || e.entryExpiry > nowSeconds
    const aliases = this.list({
      node: true,
      selectors: { match: 'subset', selectors: agentSelectors },
    }).filter(live)
    const visited = new Set<string>([agentId, ...aliases.map((a) => a.spiffeId)])
    const found = new Map<string, RegistrationEntry>()
    let frontier = [...visited]
    while (frontier.length > 0) {
      const next: string[] = []
      for (const entry of this.listByParentIds(frontier)) {
        // node aliases match agents only through their selectors, never as children
        if (entry.node || found.has(entry.id) || !live(entry)) continue
        found.set(entry.id, entry)
        if (!visited.has(entry.spiffeId)) {
          visited.add(entry.spiffeId)
          next.push(entry.spiffeId)
        }
      }
      frontier = next
    }
    return [...found.values()].sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    )
  }

  /** Entries whose stored selector rows disagree with their selector set (for integrity checks). */
  inconsistentIds(): string[] {
    const rows = this.#sql.all<{ id: string; selector_set: string; selectors: string }>(
      `SELECT e.id, e.selector_set, (SELECT json_group_array(json_array(s.type, s.value))
       FROM entry_selectors s WHERE s.entry_id = e.id) AS selectors FROM registration_entries e`,
    )
    return rows
      .filter((r) => {
        const pairs = JSON.parse(r.selectors) as [string, string][]
        return (
          pairs.length === 0 ||
          selectorSetKey(pairs.map(([type, value]) => ({ type, value }))) !== r.selector_set
        )
      })
      .map((r) => r.id)
  }
}
