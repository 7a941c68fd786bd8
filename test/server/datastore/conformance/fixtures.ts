// Shared fixtures for the DataStore conformance suite.
import { createHash, randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { parseSelector, type Selector } from '../../../../certs/selector/selector.js'
import type {
  DataStore,
  RegistrationEntry,
  RegistrationEntryInput,
} from '../../../../server/datastore/datastore.js'

/** Makes a fresh, empty store for one subtest. */
export type MakeStore = () => Promise<DataStore>

export const TD = 'spiffe://example.org'
export const SERVER_ID = `${TD}/sigil/server`
export const AGENT_A = `${TD}/sigil/agent/join_token/aaaa`
export const AGENT_B = `${TD}/sigil/agent/join_token/bbbb`

/** Selectors from their `type:key:value` strings. */
export function sel(...strings: string[]): Selector[] {
  return strings.map(parseSelector)
}

/** An entry input with defaults for everything not given. */
export function entryInput(over: Partial<RegistrationEntryInput> = {}): RegistrationEntryInput {
  return {
    spiffeId: `${TD}/workload`,
    parentId: AGENT_A,
    selectors: sel('unix:uid:1000'),
    x509SvidTtl: 0,
    jwtSvidTtl: 0,
    dnsNames: [],
    hint: '',
    admin: false,
    node: false,
    federatesWith: [],
    ...over,
  }
}

/** A fresh store that is integrity-checked and closed when the subtest ends. */
export async function openStore(t: Test, makeStore: MakeStore): Promise<DataStore> {
  const ds = await makeStore()
  t.teardown(async () => {
    await ds.integrityCheck()
    await ds.close()
  })
  return ds
}

/** Sorted ids, for order-insensitive comparison. */
export function ids(entries: readonly { id: string }[]): string[] {
  return entries.map((e) => e.id).sort()
}

/** Sorted ids of the given entries. */
export function idsOf(...entries: RegistrationEntry[]): string[] {
  return ids(entries)
}

/** A random token's hex SHA-256, as a caller would compute it. */
export function tokenHash(): string {
  return createHash('sha256').update(randomBytes(32).toString('hex')).digest('hex')
}

/** `base` plus `seconds`. */
export function after(base: Date, seconds: number): Date {
  return new Date(base.getTime() + seconds * 1000)
}

/** The tables both backends hold (SQLite adds its own bookkeeping table), by name. */
export const SCHEMA_TABLES = [
  'agent_selectors',
  'approvals',
  'attested_agents',
  'audit_records',
  'bundles',
  'entry_selectors',
  'federation_relationships',
  'issued_svids',
  'join_tokens',
  'policy_versions',
  'registration_entries',
  'revocations',
  'schema_migrations',
  'sigil_counters',
  'task_credentials',
  'task_events',
  'tasks',
  'used_join_tokens',
] as const

/** {@link SCHEMA_TABLES} plus `extra`, sorted as the catalogs list them (byte order). */
export const schemaTables = (...extra: string[]): string[] =>
  [...SCHEMA_TABLES, ...extra].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
