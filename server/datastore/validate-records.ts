/**
 * Backend-independent checks and normalization of what callers hand to a `DataStore`, so
 * every backend enforces the same shape rules. Wrong types are a caller's bug (`TypeError`);
 * a well-typed entry that breaks a rule (no selectors, negative TTL) is `ERR_ENTRY_INVALID`, and
 * an entry selector outside the known kinds or their value rules (certs/selector/selector-rules.ts:
 * it could never match) is `ERR_SELECTOR_INVALID`.
 */
import { SigilError } from '../../certs/errors.js'
import { echo } from '../../certs/lib/echo.js'
import {
  formatSelector,
  normalizeSelectors,
  parseSelector,
  type Selector,
} from '../../certs/selector/selector.js'
import { checkSelectorRule } from '../../certs/selector/selector-rules.js'
import {
  type AttestedAgentInput,
  type BundleInput,
  ENTRY_ID_PATTERN,
  ENTRY_RISKS,
  type EntryFilter,
  type EntryPatch,
  type EntryRisk,
  type FederationRelationshipInput,
  type IssuedSvidFilter,
  type IssuedSvidRecord,
  type JoinTokenInput,
  type PolicyVersionInput,
  type RegistrationEntry,
  type RegistrationEntryInput,
  type RevocationFilter,
  type RevocationInput,
  TASK_OUTCOMES,
  type TaskCredential,
  type TaskEvent,
  type TaskFilter,
  type TaskInput,
  type TaskOutcome,
} from './records.js'

const TOKEN_HASH = /^[0-9a-f]{64}$/
const ATTESTATION_TYPES = new Set(['join_token', 'x509pop'])
const SVID_KINDS = new Set(['x509', 'jwt'])
/** Longest entry `owner` / `purpose` (bytes). */
export const MAX_METADATA_BYTES = 256

/** Throws `TypeError` unless `value` is a string. */
export function checkString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`)
  return value
}

/** Throws `TypeError` unless `value` is a valid `Date`. */
export function checkDate(value: unknown, what: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new TypeError(`${what} must be a valid Date`)
  }
  return value
}

function checkStringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${what} must be an array of strings`)
  for (const v of value) checkString(v, `each of ${what}`)
  return value as string[]
}

/** Normalized copy of a selector list; throws `TypeError` on a malformed element. */
export function checkSelectors(value: unknown, what: string): Selector[] {
  if (!Array.isArray(value)) throw new TypeError(`${what} must be an array of selectors`)
  for (const s of value as unknown[]) {
    const sel = s as Partial<Selector> | null
    if (
      typeof sel !== 'object' ||
      sel === null ||
      typeof sel.type !== 'string' ||
      typeof sel.value !== 'string'
    ) {
      throw new TypeError(`each of ${what} must be { type: string, value: string }`)
    }
  }
  return normalizeSelectors(value as Selector[])
}

/**
 * The canonical key of a selector set (same set ⇔ same key), used for duplicate detection.
 *
 * @example
 * selectorSetKey([b, a, a]) === selectorSetKey([a, b]) // true
 */
export function selectorSetKey(selectors: readonly Selector[]): string {
  return JSON.stringify(normalizeSelectors(selectors).map(formatSelector))
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)]
}

/** The latest entry expiry accepted (9999-12-31T23:59:59Z), unix seconds. */
export const MAX_ENTRY_EXPIRY = 253_402_300_799

/** A checked, normalized copy of an entry input; throws `TypeError` or `ERR_ENTRY_INVALID`. */
export function checkEntryInput(input: RegistrationEntryInput): RegistrationEntryInput {
  if (typeof input !== 'object' || input === null) throw new TypeError('entry must be an object')
  const invalid = (why: string): never => {
    throw new SigilError('ERR_ENTRY_INVALID', `invalid registration entry: ${why}`)
  }
  const spiffeId = checkString(input.spiffeId, 'spiffeId')
  const parentId = checkString(input.parentId, 'parentId')
  const selectors = checkSelectors(input.selectors, 'selectors')
  const dnsNames = unique(checkStringList(input.dnsNames, 'dnsNames'))
  const federatesWith = unique(checkStringList(input.federatesWith, 'federatesWith'))
  const hint = checkString(input.hint, 'hint')
  for (const [name, v] of [
    ['admin', input.admin],
    ['node', input.node],
  ] as const) {
    if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean`)
  }
  for (const [name, v] of [
    ['x509SvidTtl', input.x509SvidTtl],
    ['jwtSvidTtl', input.jwtSvidTtl],
  ] as const) {
    if (typeof v !== 'number') throw new TypeError(`${name} must be a number`)
    if (!Number.isSafeInteger(v) || v < 0) invalid(`${name} must be a whole number of seconds >= 0`)
  }
  if (spiffeId === '') invalid('spiffeId is empty')
  if (parentId === '') invalid('parentId is empty')
  if (selectors.length === 0) invalid('at least one selector is required')
  if (selectors.some((s) => s.type === '' || s.value === '')) invalid('a selector has an empty type or value')
  for (const s of selectors) checkEntrySelector(s)
  if (dnsNames.includes('')) invalid('a DNS name is empty')
  if (federatesWith.includes('')) invalid('a federated trust domain is empty')
  const taskScopes = unique(checkStringList(input.taskScopes ?? [], 'taskScopes'))
  if (taskScopes.some((a) => a === '' || /\s/.test(a))) invalid('a task scope is empty or has whitespace')
  const maxTaskTtl = input.maxTaskTtl ?? 0
  if (typeof maxTaskTtl !== 'number') throw new TypeError('maxTaskTtl must be a number')
  if (!Number.isSafeInteger(maxTaskTtl) || maxTaskTtl < 0)
    invalid('maxTaskTtl must be a whole number of seconds >= 0')
  const revokeOnExit = input.revokeOnExit ?? false
  if (typeof revokeOnExit !== 'boolean') throw new TypeError('revokeOnExit must be a boolean')
  const owner = checkString(input.owner ?? '', 'owner')
  const purpose = checkString(input.purpose ?? '', 'purpose')
  const risk = checkString(input.risk ?? '', 'risk')
  for (const [name, v] of [
    ['owner', owner],
    ['purpose', purpose],
  ] as const) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (Buffer.byteLength(v) > MAX_METADATA_BYTES || /[\u0000-\u001f\u007f]/.test(v))
      invalid(`${name} must be at most ${MAX_METADATA_BYTES} bytes of printable text`)
  }
  if (risk !== '' && !ENTRY_RISKS.includes(risk as EntryRisk)) invalid('risk must be low, medium or high')
  const entryExpiry = input.entryExpiry ?? 0
  if (typeof entryExpiry !== 'number') throw new TypeError('entryExpiry must be a number')
  if (!Number.isSafeInteger(entryExpiry) || entryExpiry < 0 || entryExpiry > MAX_ENTRY_EXPIRY) {
    invalid('entryExpiry must be unix seconds (0: never), at most 9999-12-31')
  }
  if (input.id !== undefined && (typeof input.id !== 'string' || !ENTRY_ID_PATTERN.test(input.id))) {
    invalid('an entry ID must be 1 to 255 characters of A-Z a-z 0-9 . _ : -')
  }
  return {
    ...(input.id !== undefined ? { id: input.id } : {}),
    entryExpiry,
    taskScopes,
    maxTaskTtl,
    revokeOnExit,
    owner,
    purpose,
    risk: risk as EntryRisk,
    spiffeId,
    parentId,
    selectors,
    x509SvidTtl: input.x509SvidTtl,
    jwtSvidTtl: input.jwtSvidTtl,
    dnsNames,
    hint,
    admin: input.admin,
    node: input.node,
    federatesWith,
  }
}

/** Throws `ERR_SELECTOR_INVALID` unless `s` is well formed and follows its kind's rule. */
function checkEntrySelector(s: Selector): void {
  const parsed = parseSelector(formatSelector(s))
  if (parsed.type !== s.type) {
    throw new SigilError('ERR_SELECTOR_INVALID', `invalid selector type "${echo(s.type)}"`)
  }
  checkSelectorRule(s)
}

/** The checked input an entry becomes after `patch` (absent patch fields keep their value). */
export function applyEntryPatch(entry: RegistrationEntry, patch: EntryPatch): RegistrationEntryInput {
  if (typeof patch !== 'object' || patch === null) throw new TypeError('patch must be an object')
  const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined))
  const { id: _id, revisionNumber: _rev, createdAt: _created, ...current } = entry
  return checkEntryInput({ ...current, ...defined })
}

/** A checked copy of an attested agent input (selectors normalized); throws `TypeError`. */
export function checkAgentInput(input: AttestedAgentInput): AttestedAgentInput {
  if (typeof input !== 'object' || input === null) throw new TypeError('agent must be an object')
  const spiffeId = checkString(input.spiffeId, 'spiffeId')
  if (spiffeId === '') throw new TypeError('spiffeId must not be empty')
  if (!ATTESTATION_TYPES.has(input.attestationType)) {
    throw new TypeError(`attestationType must be one of ${[...ATTESTATION_TYPES].join(', ')}`)
  }
  return {
    spiffeId,
    attestationType: input.attestationType,
    serialNumber: checkString(input.serialNumber, 'serialNumber'),
    expiresAt: checkDate(input.expiresAt, 'expiresAt'),
    selectors: checkSelectors(input.selectors, 'selectors'),
  }
}

/** Throws `TypeError` unless `hash` is a lowercase hex SHA-256 (never a raw token). */
export function checkTokenHash(hash: unknown): string {
  if (typeof hash !== 'string' || !TOKEN_HASH.test(hash)) {
    throw new TypeError('tokenHash must be a lowercase hex SHA-256 (64 characters)')
  }
  return hash
}

/** A checked join token input; throws `TypeError`. */
export function checkJoinTokenInput(input: JoinTokenInput): JoinTokenInput {
  if (typeof input !== 'object' || input === null) throw new TypeError('join token must be an object')
  return {
    tokenHash: checkTokenHash(input.tokenHash),
    spiffeId: checkString(input.spiffeId, 'spiffeId'),
    expiresAt: checkDate(input.expiresAt, 'expiresAt'),
  }
}

/** A checked issuance record; throws `TypeError`. */
export function checkIssuedSvid(r: IssuedSvidRecord): IssuedSvidRecord {
  if (typeof r !== 'object' || r === null) throw new TypeError('issued SVID record must be an object')
  if (!SVID_KINDS.has(r.kind)) throw new TypeError("kind must be 'x509' or 'jwt'")
  if (checkString(r.serialOrJti, 'serialOrJti') === '') throw new TypeError('serialOrJti must not be empty')
  return {
    kind: r.kind,
    serialOrJti: r.serialOrJti,
    spiffeId: checkString(r.spiffeId, 'spiffeId'),
    entryId: checkString(r.entryId, 'entryId'),
    agentId: checkString(r.agentId, 'agentId'),
    notBefore: checkDate(r.notBefore, 'notBefore'),
    notAfter: checkDate(r.notAfter, 'notAfter'),
    audience: [...checkStringList(r.audience, 'audience')],
    issuedAt: checkDate(r.issuedAt, 'issuedAt'),
  }
}

/** Throws `TypeError` unless `limit` is undefined or a positive safe integer. */
export function checkLimit(limit: unknown): number | undefined {
  if (limit === undefined) return undefined
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit <= 0) {
    throw new TypeError('limit must be a positive integer')
  }
  return limit
}

const MATCHES = new Set(['exact', 'subset', 'superset', 'any'])

/** A checked entry filter (selectors normalized); throws `TypeError`. */
export function checkEntryFilter(filter: EntryFilter | undefined): EntryFilter {
  if (filter === undefined) return {}
  if (typeof filter !== 'object' || filter === null) throw new TypeError('filter must be an object')
  const out: { -readonly [K in keyof EntryFilter]: EntryFilter[K] } = {}
  if (filter.spiffeId !== undefined) out.spiffeId = checkString(filter.spiffeId, 'filter.spiffeId')
  if (filter.parentId !== undefined) out.parentId = checkString(filter.parentId, 'filter.parentId')
  if (filter.node !== undefined) {
    if (typeof filter.node !== 'boolean') throw new TypeError('filter.node must be a boolean')
    out.node = filter.node
  }
  if (filter.selectors !== undefined) {
    const { match, selectors } = filter.selectors
    if (!MATCHES.has(match))
      throw new TypeError(`filter.selectors.match must be one of ${[...MATCHES].join(', ')}`)
    out.selectors = { match, selectors: checkSelectors(selectors, 'filter.selectors.selectors') }
  }
  return out
}

/** A checked issuance record filter; throws `TypeError`. */
export function checkIssuedSvidFilter(filter: IssuedSvidFilter | undefined): IssuedSvidFilter {
  if (filter === undefined) return {}
  if (typeof filter !== 'object' || filter === null) throw new TypeError('filter must be an object')
  const out: { -readonly [K in keyof IssuedSvidFilter]: IssuedSvidFilter[K] } = {}
  if (filter.kind !== undefined) {
    if (!SVID_KINDS.has(filter.kind)) throw new TypeError("filter.kind must be 'x509' or 'jwt'")
    out.kind = filter.kind
  }
  if (filter.serialOrJti !== undefined)
    out.serialOrJti = checkString(filter.serialOrJti, 'filter.serialOrJti')
  if (filter.spiffeId !== undefined) out.spiffeId = checkString(filter.spiffeId, 'filter.spiffeId')
  if (filter.agentId !== undefined) out.agentId = checkString(filter.agentId, 'filter.agentId')
  if (filter.since !== undefined) out.since = checkDate(filter.since, 'filter.since')
  const limit = checkLimit(filter.limit)
  if (limit !== undefined) out.limit = limit
  return out
}

/** A checked bundle input; throws `TypeError`. */
export function checkBundleInput(trustDomain: unknown, bundle: BundleInput): BundleInput {
  if (checkString(trustDomain, 'trustDomain') === '') throw new TypeError('trustDomain must not be empty')
  if (typeof bundle !== 'object' || bundle === null) throw new TypeError('bundle must be an object')
  const seq = bundle.sequenceNumber
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new TypeError('sequenceNumber must be an integer >= 0')
  }
  return { spiffeBundleJson: checkString(bundle.spiffeBundleJson, 'spiffeBundleJson'), sequenceNumber: seq }
}

function checkStringArray(value: unknown, what: string): string[] {
  return [...checkStringList(value, what)]
}

/** A checked task input; throws `TypeError`. */
export function checkTaskInput(t: TaskInput): TaskInput {
  if (typeof t !== 'object' || t === null) throw new TypeError('task must be an object')
  for (const name of ['id', 'spiffeId', 'subject'] as const) {
    if (checkString(t[name], name) === '') throw new TypeError(`${name} must not be empty`)
  }
  return {
    id: t.id,
    spiffeId: t.spiffeId,
    entryId: checkString(t.entryId, 'entryId'),
    agentId: checkString(t.agentId, 'agentId'),
    processKey: checkString(t.processKey, 'processKey'),
    subject: t.subject,
    purpose: checkString(t.purpose, 'purpose'),
    scope: checkStringArray(t.scope, 'scope'),
    actChain: checkStringArray(t.actChain, 'actChain'),
    parentTxn: checkString(t.parentTxn, 'parentTxn'),
    createdAt: checkDate(t.createdAt, 'createdAt'),
    deadline: checkDate(t.deadline, 'deadline'),
  }
}

/** Throws `TypeError` unless `outcome` is a {@link TaskOutcome}. */
export function checkTaskOutcome(outcome: unknown): TaskOutcome {
  if (!(TASK_OUTCOMES as readonly unknown[]).includes(outcome)) {
    throw new TypeError(`outcome must be one of ${TASK_OUTCOMES.join(', ')}`)
  }
  return outcome as TaskOutcome
}

/** A checked task filter; throws `TypeError`. */
export function checkTaskFilter(filter: TaskFilter | undefined): TaskFilter {
  if (filter === undefined) return {}
  if (typeof filter !== 'object' || filter === null) throw new TypeError('filter must be an object')
  const out: { -readonly [K in keyof TaskFilter]: TaskFilter[K] } = {}
  if (filter.state !== undefined) {
    if (filter.state !== 'active' && filter.state !== 'ended')
      throw new TypeError("filter.state must be 'active' or 'ended'")
    out.state = filter.state
  }
  if (filter.spiffeId !== undefined) out.spiffeId = checkString(filter.spiffeId, 'filter.spiffeId')
  if (filter.deadlineBefore !== undefined)
    out.deadlineBefore = checkDate(filter.deadlineBefore, 'filter.deadlineBefore')
  const limit = checkLimit(filter.limit)
  if (limit !== undefined) out.limit = limit
  return out
}

/** A checked task credential; throws `TypeError`. */
export function checkTaskCredential(c: TaskCredential): TaskCredential {
  if (typeof c !== 'object' || c === null) throw new TypeError('task credential must be an object')
  if (c.kind !== 'txn' && c.kind !== 'jwt' && c.kind !== 'x509')
    throw new TypeError("kind must be 'txn', 'jwt' or 'x509'")
  if (checkString(c.credential, 'credential') === '') throw new TypeError('credential must not be empty')
  return {
    taskId: checkString(c.taskId, 'taskId'),
    kind: c.kind,
    credential: c.credential,
    audience: checkStringArray(c.audience, 'audience'),
    issuedAt: checkDate(c.issuedAt, 'issuedAt'),
    expiresAt: checkDate(c.expiresAt, 'expiresAt'),
  }
}

/** A checked task event; throws `TypeError`. */
export function checkTaskEvent(e: TaskEvent): TaskEvent {
  if (typeof e !== 'object' || e === null) throw new TypeError('task event must be an object')
  if (checkString(e.event, 'event') === '') throw new TypeError('event must not be empty')
  return {
    taskId: checkString(e.taskId, 'taskId'),
    at: checkDate(e.at, 'at'),
    event: e.event,
    detail: checkString(e.detail, 'detail').slice(0, 1024),
  }
}

const REVOCATION_KINDS = new Set(['x509_serial', 'jwt_jti', 'txn'])

/** A checked revocation; throws `TypeError`. */
export function checkRevocationInput(r: RevocationInput): RevocationInput {
  if (typeof r !== 'object' || r === null) throw new TypeError('revocation must be an object')
  if (!REVOCATION_KINDS.has(r.kind)) throw new TypeError("kind must be 'x509_serial', 'jwt_jti' or 'txn'")
  if (checkString(r.value, 'value') === '') throw new TypeError('value must not be empty')
  return {
    kind: r.kind,
    value: r.value,
    reason: checkString(r.reason, 'reason'),
    expiresAt: checkDate(r.expiresAt, 'expiresAt'),
  }
}

/** A checked revocation filter; throws `TypeError`. */
export function checkRevocationFilter(filter: RevocationFilter | undefined): RevocationFilter {
  if (filter === undefined) return {}
  if (typeof filter !== 'object' || filter === null) throw new TypeError('filter must be an object')
  const out: { -readonly [K in keyof RevocationFilter]: RevocationFilter[K] } = {}
  if (filter.since !== undefined) {
    if (typeof filter.since !== 'number' || !Number.isSafeInteger(filter.since) || filter.since < 0) {
      throw new TypeError('filter.since must be a non-negative integer')
    }
    out.since = filter.since
  }
  if (filter.kind !== undefined) {
    if (!REVOCATION_KINDS.has(filter.kind)) throw new TypeError('filter.kind is not a revocation kind')
    out.kind = filter.kind
  }
  return out
}

/** A checked federation relationship input; throws `TypeError` (the caller validated the values). */
export function checkFederationRelationshipInput(
  r: FederationRelationshipInput,
): FederationRelationshipInput {
  if (typeof r !== 'object' || r === null) throw new TypeError('relationship must be an object')
  for (const name of ['trustDomain', 'bundleEndpointUrl'] as const) {
    if (checkString(r[name], name) === '') throw new TypeError(`${name} must not be empty`)
  }
  const profile = r.bundleEndpointProfile
  if (profile !== 'https_web' && profile !== 'https_spiffe') {
    throw new TypeError('bundleEndpointProfile must be "https_web" or "https_spiffe"')
  }
  const endpointSpiffeId = checkString(r.endpointSpiffeId, 'endpointSpiffeId')
  if ((profile === 'https_spiffe') !== (endpointSpiffeId !== '')) {
    throw new TypeError('endpointSpiffeId is required for https_spiffe and must be empty for https_web')
  }
  return {
    trustDomain: r.trustDomain,
    bundleEndpointUrl: r.bundleEndpointUrl,
    bundleEndpointProfile: profile,
    endpointSpiffeId,
  }
}

/** A checked copy of a policy version input; throws `TypeError`. */
export function checkPolicyVersionInput(input: PolicyVersionInput): PolicyVersionInput {
  if (typeof input !== 'object' || input === null) throw new TypeError('policy version must be an object')
  const text = checkString(input.text, 'text')
  const sha256 = checkString(input.sha256, 'sha256')
  if (!TOKEN_HASH.test(sha256)) throw new TypeError('sha256 must be 64 lowercase hex characters')
  return {
    text,
    sha256,
    adminCaller: checkString(input.adminCaller, 'adminCaller'),
    policyIds: checkStringList(input.policyIds, 'policyIds'),
  }
}
