/**
 * Registration entries between the wire (`sigil.common.v1.RegistrationEntry`) and the
 * datastore record, with every rule the admin API enforces on an entry:
 * - `spiffe_id` is a workload ID (with a path) in our trust domain, never the server's ID;
 * - a node-alias entry (`node`) hangs under the server ID `spiffe://<td>/sigil/server`
 *   (an empty `parent_id` means exactly that); any other entry needs a `parent_id` in our
 *   trust domain that is not the server ID;
 * - at least one selector, each `type:key:value` of a known kind with a value following its
 *   rule (certs/selector/selector-rules.ts); TTLs ≥ 0; DNS names are host names;
 *   `federates_with` names other trust domains;
 * - a workload entry (not `node`) names who runs the process — a unix uid, gid, user or group
 *   selector, primary or supplementary — unless the caller passed `allow_script_only`: every
 *   other workload selector can be matched by a process of any user on the node, and
 *   `proc:script`/`proc:module` are the process's own claim. Node-alias entries (x509pop
 *   selectors, matched against attested agents) are not concerned.
 */
import { SigilError } from '../../../certs/errors.js'
import { namesCaller } from '../../../certs/selector/selector-rules.js'
import type { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import type { RegistrationEntry__Output as EntryMessage } from '../../../proto/generated/sigil/common/v1/RegistrationEntry.js'
import {
  ENTRY_RISKS,
  type EntryRisk,
  type RegistrationEntry,
  type RegistrationEntryInput,
} from '../../datastore/records.js'
import { MAX_ENTRY_EXPIRY, MAX_METADATA_BYTES } from '../../datastore/validate-records.js'
import {
  checkDnsNames,
  checkFederatesWith,
  checkListSize,
  checkSelectors,
  checkText,
  checkTtl,
  requireWorkloadId,
  serverSpiffeId,
} from './admin-input.js'

/** The entry fields an update may name in `update_mask` (all but the server-assigned ones). */
export const MUTABLE_ENTRY_FIELDS = [
  'spiffe_id',
  'parent_id',
  'selectors',
  'x509_svid_ttl',
  'jwt_svid_ttl',
  'dns_names',
  'hint',
  'admin',
  'node',
  'federates_with',
  'task_scopes',
  'max_task_ttl',
  'revoke_on_exit',
  'owner',
  'purpose',
  'risk',
  'expires_at',
] as const

/** One of {@link MUTABLE_ENTRY_FIELDS}. */
export type MutableEntryField = (typeof MUTABLE_ENTRY_FIELDS)[number]

/** The decoded wire entry (every field present, as proto-loader fills in defaults). */
export type EntryFields = Pick<EntryMessage, MutableEntryField>

function entryInvalid(message: string): never {
  throw new SigilError('ERR_ENTRY_INVALID', `invalid registration entry: ${message}`)
}

/** Why a workload entry without a uid/gid/user/group selector is refused (names the way out). */
export const SCRIPT_ONLY_REFUSAL =
  'a workload entry must name who runs the process with a unix:uid, unix:gid, unix:user or unix:group ' +
  'selector (or a supplementary one): any other selector can be matched by a process of any user on ' +
  "the node, and proc:script is the process's own claim; pass --allow-script-only (allow_script_only) " +
  'to store it anyway'

/** Options of {@link entryInputFromMessage}. */
export interface EntryCheckOptions {
  /** Refuse a workload entry whose selectors name no uid, gid, user or group (default true). */
  readonly requireCaller?: boolean
}

/**
 * Checks a wire entry and returns the datastore input. Throws SigilError codes that map to
 * INVALID_ARGUMENT.
 *
 * @example
 * const input = entryInputFromMessage(request.entry, trustDomain)
 * await datastore.createEntry(input)
 */
export function entryInputFromMessage(
  msg: EntryFields,
  trustDomain: TrustDomain,
  opts: EntryCheckOptions = {},
): RegistrationEntryInput {
  const server = serverSpiffeId(trustDomain).toString()
  const spiffeId = requireWorkloadId(msg.spiffe_id, trustDomain, 'spiffe_id').toString()
  if (spiffeId === server) entryInvalid(`spiffe_id must not be the server's own ID ${server}`)
  let parentId: string
  if (msg.node) {
    if (msg.parent_id !== '' && msg.parent_id !== server) {
      entryInvalid(`a node-alias entry's parent must be the server ID ${server}`)
    }
    parentId = server
  } else {
    parentId = requireWorkloadId(msg.parent_id, trustDomain, 'parent_id').toString()
    if (parentId === server) entryInvalid(`only node-alias entries (node) may have the server ID as parent`)
  }
  const selectors = checkSelectors(msg.selectors)
  if (selectors.length === 0) entryInvalid('at least one selector is required')
  if (!msg.node && (opts.requireCaller ?? true) && !namesCaller(selectors)) entryInvalid(SCRIPT_ONLY_REFUSAL)
  return {
    spiffeId,
    parentId,
    selectors,
    x509SvidTtl: checkTtl(msg.x509_svid_ttl, 'x509_svid_ttl'),
    jwtSvidTtl: checkTtl(msg.jwt_svid_ttl, 'jwt_svid_ttl'),
    dnsNames: checkDnsNames(msg.dns_names),
    hint: checkText(msg.hint, 'hint'),
    admin: msg.admin,
    node: msg.node,
    federatesWith: checkFederatesWith(msg.federates_with, trustDomain),
    taskScopes: checkTaskScopes(msg.task_scopes),
    maxTaskTtl: checkTtl(msg.max_task_ttl, 'max_task_ttl'),
    revokeOnExit: msg.revoke_on_exit,
    owner: checkMetadata(msg.owner, 'owner'),
    purpose: checkMetadata(msg.purpose, 'purpose'),
    risk: checkRisk(msg.risk),
    entryExpiry: checkEntryExpiry(msg.expires_at),
  }
}

/** Owner/purpose: at most {@link MAX_METADATA_BYTES} bytes of printable text. */
function checkMetadata(value: string, field: string): string {
  checkText(value, field)
  if (Buffer.byteLength(value) > MAX_METADATA_BYTES)
    entryInvalid(`${field} must be at most ${MAX_METADATA_BYTES} bytes`)
  return value
}

/** Risk: low, medium, high or empty. */
function checkRisk(value: string): EntryRisk {
  if (value === '' || ENTRY_RISKS.includes(value as EntryRisk)) return value as EntryRisk
  return entryInvalid('risk must be low, medium or high')
}

/** `expires_at`: unix seconds, 0 = never; at most {@link MAX_ENTRY_EXPIRY}. */
function checkEntryExpiry(value: number | undefined): number {
  const n = Number(value ?? 0)
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ENTRY_EXPIRY) {
    entryInvalid('expires_at must be unix seconds (0: never), at most 9999-12-31')
  }
  return n
}

/** Task audiences: printable, no whitespace (the Txn-Token `scope` is space-separated), de-duplicated. */
function checkTaskScopes(values: readonly string[]): string[] {
  checkListSize(values, 'task_scopes')
  for (const v of values) {
    checkText(v, 'task_scopes')
    if (v === '' || /\s/.test(v)) entryInvalid('each task scope must be non-empty and without whitespace')
  }
  return [...new Set(values)]
}

/** The wire form of a stored entry (times in unix seconds, federated trust domains as IDs). */
export function entryToMessage(e: RegistrationEntry): EntryMessage {
  return {
    id: e.id,
    spiffe_id: e.spiffeId,
    parent_id: e.parentId,
    selectors: e.selectors.map((s) => ({ type: s.type, value: s.value })),
    x509_svid_ttl: e.x509SvidTtl,
    jwt_svid_ttl: e.jwtSvidTtl,
    dns_names: [...e.dnsNames],
    hint: e.hint,
    admin: e.admin,
    node: e.node,
    federates_with: e.federatesWith.map((td) => `spiffe://${td}`),
    revision_number: e.revisionNumber,
    created_at: Math.floor(e.createdAt.getTime() / 1000),
    task_scopes: [...e.taskScopes],
    max_task_ttl: e.maxTaskTtl,
    revoke_on_exit: e.revokeOnExit,
    owner: e.owner,
    purpose: e.purpose,
    risk: e.risk,
    expires_at: e.entryExpiry ?? 0,
  }
}
