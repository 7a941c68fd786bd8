/**
 * The entry field flags shared by `entry create` and `entry update` (declared once here),
 * and the translation of their values into the wire entry plus the update mask naming
 * exactly the fields that were given.
 */
import { SigilError } from '../../../../certs/errors.js'
import type { RegistrationEntry } from '../../../../proto/generated/sigil/common/v1/RegistrationEntry.js'
import { dnsNameFlags, selectorFlags, spiffeIdFlag, trustDomainIdFlags, ttlFlag } from '../../flag-values.js'

/** Single-valued entry flags. */
export const ENTRY_VALUE_OPTIONS = {
  'spiffe-id': { hint: 'id', description: 'SPIFFE ID the entry issues' },
  'parent-id': {
    hint: 'id',
    description: 'SPIFFE ID of the agent or node alias the workloads run under (not with --node)',
  },
  'x509-svid-ttl': { hint: 'duration', description: 'X509-SVID lifetime, e.g. 1h (0: the server default)' },
  'jwt-svid-ttl': { hint: 'duration', description: 'JWT-SVID lifetime, e.g. 5m (0: the server default)' },
  hint: { hint: 'text', description: 'Label copied into the Workload API hint fields' },
  'max-task-ttl': {
    hint: 'duration',
    description: 'Longest task a workload of this entry may begin, e.g. 10m (0: the server default, 1h)',
  },
  owner: { hint: 'text', description: 'Who answers for this identity (seen by policy and audit)' },
  purpose: { hint: 'text', description: 'What this identity is for (seen by policy and audit)' },
  risk: { hint: 'level', description: 'Risk rating: low, medium or high ("" clears it; seen by policy)' },
  'entry-expiry': {
    hint: 'unix-seconds',
    description:
      'When the entry expires, unix seconds (0: never); an expired entry matches nothing and is pruned',
  },
} as const

/** Repeatable entry flags. */
export const ENTRY_LIST_OPTIONS = {
  selector: { hint: 'type:key:value', description: 'Selector the caller must have (repeatable)' },
  'dns-name': { hint: 'name', description: 'DNS SAN for X509-SVIDs of this entry (repeatable)' },
  'federates-with': {
    hint: 'td',
    description: 'Trust domain (spiffe://other.org) whose bundle workloads also get (repeatable)',
  },
  'task-scope': {
    hint: 'audience',
    description: 'Audience tasks of this entry may call (repeatable); none: the entry may not begin tasks',
  },
} as const

/** Boolean entry flags (`--no-admin` / `--no-node` clear them on update). */
export const ENTRY_FLAG_OPTIONS = {
  admin: { description: 'The identity may call admin operations' },
  node: { description: 'A node-alias entry: groups agents by node selectors; its parent is the server' },
  'revoke-on-exit': { description: "Revoke a process's X509-SVIDs of this entry when the process exits" },
} as const

/** Flags of `entry create` and `entry update` that are not entry fields. */
export const ENTRY_POLICY_OPTIONS = {
  'allow-script-only': {
    description:
      'Store a workload entry whose selectors name no unix uid, gid, user or group (e.g. only proc:script): any user on the node can then match it',
  },
} as const

/** The parsed values of the entry flags. */
export interface EntryFlagValues {
  readonly 'spiffe-id'?: string | undefined
  readonly 'parent-id'?: string | undefined
  readonly 'x509-svid-ttl'?: string | undefined
  readonly 'jwt-svid-ttl'?: string | undefined
  readonly hint?: string | undefined
  readonly selector?: string[] | undefined
  readonly 'dns-name'?: string[] | undefined
  readonly 'federates-with'?: string[] | undefined
  readonly admin?: boolean | undefined
  readonly node?: boolean | undefined
  readonly 'task-scope'?: string[] | undefined
  readonly 'max-task-ttl'?: string | undefined
  readonly 'revoke-on-exit'?: boolean | undefined
  readonly owner?: string | undefined
  readonly purpose?: string | undefined
  readonly risk?: string | undefined
  readonly 'entry-expiry'?: string | undefined
}

/**
 * The wire entry for the given flags (checked locally) and the names of the fields set.
 *
 * @example
 * entryFromFlags({ 'spiffe-id': 'spiffe://example.org/web', selector: ['unix:uid:1000'] }).mask
 * // ['spiffe_id', 'selectors']
 */
export function entryFromFlags(v: EntryFlagValues): { entry: RegistrationEntry; mask: string[] } {
  const entry: RegistrationEntry = {}
  const mask: string[] = []
  if (v['spiffe-id'] !== undefined) {
    entry.spiffe_id = spiffeIdFlag(v['spiffe-id'], '--spiffe-id')
    mask.push('spiffe_id')
  }
  if (v['parent-id'] !== undefined) {
    entry.parent_id = spiffeIdFlag(v['parent-id'], '--parent-id')
    mask.push('parent_id')
  }
  if (v.selector !== undefined) {
    entry.selectors = selectorFlags(v.selector)
    mask.push('selectors')
  }
  if (v['x509-svid-ttl'] !== undefined) {
    entry.x509_svid_ttl = ttlFlag(v['x509-svid-ttl'], '--x509-svid-ttl', { allowZero: true })
    mask.push('x509_svid_ttl')
  }
  if (v['jwt-svid-ttl'] !== undefined) {
    entry.jwt_svid_ttl = ttlFlag(v['jwt-svid-ttl'], '--jwt-svid-ttl', { allowZero: true })
    mask.push('jwt_svid_ttl')
  }
  if (v['dns-name'] !== undefined) {
    entry.dns_names = dnsNameFlags(v['dns-name'])
    mask.push('dns_names')
  }
  if (v.hint !== undefined) {
    entry.hint = v.hint
    mask.push('hint')
  }
  if (v.admin !== undefined) {
    entry.admin = v.admin
    mask.push('admin')
  }
  if (v.node !== undefined) {
    entry.node = v.node
    mask.push('node')
  }
  if (v['federates-with'] !== undefined) {
    entry.federates_with = trustDomainIdFlags(v['federates-with'])
    mask.push('federates_with')
  }
  if (v['task-scope'] !== undefined) {
    entry.task_scopes = taskScopeFlags(v['task-scope'])
    mask.push('task_scopes')
  }
  if (v['max-task-ttl'] !== undefined) {
    entry.max_task_ttl = ttlFlag(v['max-task-ttl'], '--max-task-ttl', { allowZero: true })
    mask.push('max_task_ttl')
  }
  if (v['revoke-on-exit'] !== undefined) {
    entry.revoke_on_exit = v['revoke-on-exit']
    mask.push('revoke_on_exit')
  }
  for (const field of ['owner', 'purpose'] as const) {
    const value = v[field]
    if (value === undefined) continue
    entry[field] = value
    mask.push(field)
  }
  if (v.risk !== undefined) {
    entry.risk = riskFlag(v.risk, '--risk')
    mask.push('risk')
  }
  if (v['entry-expiry'] !== undefined) {
    entry.expires_at = entryExpiryFlag(v['entry-expiry'])
    mask.push('expires_at')
  }
  return { entry, mask }
}

/** A risk rating: low, medium, high, or `''` (not rated). */
export function riskFlag(value: string, flag: string): string {
  if (value === '' || value === 'low' || value === 'medium' || value === 'high') return value
  throw new SigilError('ERR_INVALID_ARGUMENT', `${flag}: expected low, medium or high`)
}

/** `--entry-expiry`: unix seconds, 0 = never. */
function entryExpiryFlag(value: string): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n > 253_402_300_799) {
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      '--entry-expiry: unix seconds (0: never), at most 9999-12-31',
    )
  }
  return n
}

/** `--task-scope` values: non-empty, no whitespace (a Txn-Token's scope is space-separated). */
function taskScopeFlags(values: readonly string[]): string[] {
  for (const v of values) {
    if (v === '' || /\s/.test(v)) {
      throw new SigilError('ERR_INVALID_ARGUMENT', '--task-scope: a non-empty audience without whitespace')
    }
  }
  return [...values]
}
