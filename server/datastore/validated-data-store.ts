/**
 * The datastore boundary's input checks, once for every backend: a decorator around any
 * {@link DataStore} that checks and normalizes each call's arguments with `validate-records.ts`
 * (wrong types → `TypeError`, broken entry rules → `ERR_ENTRY_INVALID` / `ERR_SELECTOR_INVALID`)
 * before the backend sees them. Backends may then assume well-typed, normalized input
 * (selectors sorted and de-duplicated, dates valid). `openDataStore` always applies it.
 *
 * The check list is a total map over the interface: a new DataStore method (optional ones
 * too) does not compile until it says how its arguments are checked (`pass` when there is
 * nothing to check). An optional method the backend lacks stays absent from the wrapper.
 */
import type { DataStore } from './datastore.js'
import type { EntryPatch } from './records.js'
import {
  checkApprovalDecision,
  checkApprovalFilter,
  checkApprovalInput,
  checkApprovalKey,
} from './validate-approval-records.js'
import { checkAuditFilter, checkAuditHead, checkAuditRecord } from './validate-audit-records.js'
import * as check from './validate-records.js'

type Args<M extends keyof DataStore> = Parameters<NonNullable<DataStore[M]>>
// `-?`: an optional DataStore method (a capability some backends lack) needs its entry too
type Checks = { readonly [M in keyof DataStore]-?: (...args: Args<M>) => Args<M> }

function checkArray<T>(value: readonly T[], what: string): readonly T[] {
  if (!Array.isArray(value)) throw new TypeError(`${what} must be an array`)
  return value
}

function checkPatch(patch: EntryPatch): EntryPatch {
  if (typeof patch !== 'object' || patch === null) throw new TypeError('patch must be an object')
  return patch
}

const pass = <A extends unknown[]>(...args: A): A => args
const id = (value: string): [string] => [check.checkString(value, 'id')]
const spiffeId = (value: string): [string] => [check.checkString(value, 'spiffeId')]

/** How each method's arguments are checked; the result is what the backend receives. */
const CHECKS: Checks = {
  createEntry: (input) => [check.checkEntryInput(input)],
  getEntry: id,
  listEntries: (filter) => [check.checkEntryFilter(filter)],
  countEntries: (filter) => [check.checkEntryFilter(filter)],
  updateEntry: (entryId, patch) => [check.checkString(entryId, 'id'), checkPatch(patch)],
  deleteEntry: id,
  listEntriesByParentIds: (parentIds) => {
    if (!Array.isArray(parentIds)) throw new TypeError('parentIds must be an array of strings')
    for (const p of parentIds) check.checkString(p, 'each parentId')
    return [[...parentIds]]
  },
  listAuthorizedEntries: (agentId, selectors) => [
    check.checkString(agentId, 'agentId'),
    check.checkSelectors(selectors, 'agentSelectors'),
  ],
  entriesVersion: pass,
  createOrUpdateAttestedAgent: (input, now) => [check.checkAgentInput(input), check.checkDate(now, 'now')],
  getAttestedAgent: spiffeId,
  listAttestedAgents: (filter) => {
    const banned = filter?.banned
    if (banned !== undefined && typeof banned !== 'boolean')
      throw new TypeError('filter.banned must be a boolean')
    return [banned === undefined ? {} : { banned }]
  },
  updateAgentSvid: (agentId, serialNumber, expiresAt) => [
    check.checkString(agentId, 'spiffeId'),
    check.checkString(serialNumber, 'serialNumber'),
    check.checkDate(expiresAt, 'expiresAt'),
  ],
  touchAgent: (agentId, now) => [check.checkString(agentId, 'spiffeId'), check.checkDate(now, 'now')],
  deleteAttestedAgent: spiffeId,
  banAttestedAgent: spiffeId,
  createJoinToken: (input) => [check.checkJoinTokenInput(input)],
  consumeJoinToken: (tokenHash, now) => [check.checkTokenHash(tokenHash), check.checkDate(now, 'now')],
  pruneExpiredJoinTokens: (now) => [check.checkDate(now, 'now')],
  setBundle: (trustDomain, bundle) => [trustDomain, check.checkBundleInput(trustDomain, bundle)],
  updateBundle: (trustDomain, merge) => {
    if (check.checkString(trustDomain, 'trustDomain') === '')
      throw new TypeError('trustDomain must not be empty')
    if (typeof merge !== 'function') throw new TypeError('merge must be a function')
    // what merge returns is checked like setBundle's argument, inside the backend's transaction
    // (a throw there rolls it back)
    return [
      trustDomain,
      (stored) => {
        const next = merge(stored)
        return next === undefined ? undefined : check.checkBundleInput(trustDomain, next)
      },
    ]
  },
  getBundle: (trustDomain) => [check.checkString(trustDomain, 'trustDomain')],
  listBundles: pass,
  deleteBundle: (trustDomain) => [check.checkString(trustDomain, 'trustDomain')],
  recordIssuedSvids: (records) => [checkArray(records, 'records').map(check.checkIssuedSvid)],
  listIssuedSvids: (filter) => [check.checkIssuedSvidFilter(filter)],
  pruneIssuedSvids: (before) => [check.checkDate(before, 'before')],
  createTask: (input) => [check.checkTaskInput(input)],
  getTask: id,
  listTasks: (filter) => [check.checkTaskFilter(filter)],
  endTask: (taskId, outcome, reason, now) => [
    check.checkString(taskId, 'id'),
    check.checkTaskOutcome(outcome),
    check.checkString(reason, 'reason').slice(0, 1024),
    check.checkDate(now, 'now'),
  ],
  recordTaskCredential: (credential) => [check.checkTaskCredential(credential)],
  listTaskCredentials: (taskId) => [check.checkString(taskId, 'taskId')],
  recordTaskEvent: (event) => [check.checkTaskEvent(event)],
  listTaskEvents: (taskId) => [check.checkString(taskId, 'taskId')],
  addRevocations: (inputs, now) => [
    checkArray(inputs, 'inputs').map(check.checkRevocationInput),
    check.checkDate(now, 'now'),
  ],
  listRevocations: (filter) => [check.checkRevocationFilter(filter)],
  revocationSequence: pass,
  pruneRevocations: (now) => [check.checkDate(now, 'now')],
  createFederationRelationship: (input, nextRefreshAt) => [
    check.checkFederationRelationshipInput(input),
    check.checkDate(nextRefreshAt, 'nextRefreshAt'),
  ],
  getFederationRelationship: (trustDomain) => [check.checkString(trustDomain, 'trustDomain')],
  listFederationRelationships: pass,
  updateFederationRelationship: (input, nextRefreshAt) => [
    check.checkFederationRelationshipInput(input),
    check.checkDate(nextRefreshAt, 'nextRefreshAt'),
  ],
  deleteFederationRelationship: (trustDomain) => [check.checkString(trustDomain, 'trustDomain')],
  recordFederationRefresh: (trustDomain, refresh) => {
    check.checkDate(refresh?.at, 'at')
    return [
      check.checkString(trustDomain, 'trustDomain'),
      {
        at: refresh.at,
        nextRefreshAt: check.checkDate(refresh.nextRefreshAt, 'nextRefreshAt'),
        error: check.checkString(refresh.error, 'error'),
      },
    ]
  },
  storeFederatedBundle: (trustDomain, bundle) => [trustDomain, check.checkBundleInput(trustDomain, bundle)],
  pruneExpiredEntries: (now) => [check.checkDate(now, 'now')],
  createApproval: (input) => [checkApprovalInput(input)],
  getApproval: id,
  listApprovals: (filter) => [checkApprovalFilter(filter)],
  decideApproval: (approvalId, decision) => [
    check.checkString(approvalId, 'id'),
    checkApprovalDecision(decision),
  ],
  findCoveringApproval: (key, now) => [checkApprovalKey(key), check.checkDate(now, 'now')],
  expireApprovals: (now) => [check.checkDate(now, 'now')],
  appendAuditRecords: (records, expected) => {
    const checked = checkArray(records, 'records').map(checkAuditRecord)
    const head = checkAuditHead(expected)
    let next = (head?.seq ?? 0) + 1
    for (const r of checked) {
      if (r.seq !== next++) throw new TypeError('records must be numbered on from the expected head')
    }
    return [checked, head]
  },
  auditHead: pass,
  listAuditRecords: (filter) => [checkAuditFilter(filter)],
  readAuditRecords: (afterSeq, limit) => {
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0)
      throw new TypeError('afterSeq must be a non-negative integer')
    if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError('limit must be a positive integer')
    return [afterSeq, limit]
  },
  addPolicyVersion: (input) => [check.checkPolicyVersionInput(input)],
  getPolicyVersion: (version) => {
    if (version !== undefined && (!Number.isSafeInteger(version) || version < 1))
      throw new TypeError('version must be a whole number >= 1')
    return [version]
  },
  listPolicyVersions: pass,
  integrityCheck: pass,
  // synchronous, so passed as it is: the backends' change feed throws TypeError for a non-function
  watchChanges: pass,
  runExclusive: (name, job) => {
    if (check.checkString(name, 'name') === '') throw new TypeError('name must not be empty')
    if (typeof job !== 'function') throw new TypeError('job must be a function')
    return [name, job]
  },
  close: pass,
}

/**
 * Wraps `inner`; every call's arguments are checked (a rejection, never a synchronous throw)
 * before `inner` runs.
 *
 * @example
 * const datastore = validateDataStore(await SqliteDataStore.open({ path }))
 * await datastore.createEntry(input) // TypeError / ERR_ENTRY_INVALID before SQLite sees it
 */
export function validateDataStore(inner: DataStore): DataStore {
  const wrapped: Record<string, unknown> = {}
  for (const [method, checkArgs] of Object.entries(CHECKS) as [
    keyof DataStore,
    (...args: unknown[]) => unknown[],
  ][]) {
    if (typeof inner[method] !== 'function') continue // an optional capability this backend lacks
    const call = (inner[method] as (...args: unknown[]) => Promise<unknown>).bind(inner)
    // nothing to check: the backend's method as it is (a synchronous one stays synchronous)
    wrapped[method] = checkArgs === pass ? call : async (...args: unknown[]) => call(...checkArgs(...args))
  }
  return wrapped as unknown as DataStore
}
