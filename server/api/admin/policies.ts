/**
 * Admin handlers for `policy set|show|history|test` (issue 14). `SetPolicy` validates before it
 * stores (an invalid text is INVALID_ARGUMENT naming line and column, and nothing changes);
 * `TestPolicy` evaluates one request against the policy in force or a candidate text, with the
 * principal described exactly as the server describes a signing request's caller.
 *
 * Principal syntax of `TestPolicy`: a SPIFFE ID. The SPIFFE ID of a registration entry is that
 * Workload (owner, purpose, risk, selectors from the entry; its parent agent as its Agent when
 * that agent is attested); `entry_id` picks the entry when several issue the ID. Else the SPIFFE
 * ID of an attested agent is that Agent. Anything else is NOT_FOUND.
 */
import { SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { CompiledPolicySet, describeDecision, PolicyError } from '../../../common/policy/policy-engine.js'
import { requestDetailsFrom, type TaskFacts } from '../../../common/policy/policy-entities.js'
import { type PolicyCheck, policyRequest } from '../../../common/policy/policy-point.js'
import { POLICY_ACTIONS, type PolicyAction } from '../../../common/policy/sigil-schema.js'
import type { PolicyVersion } from '../../../proto/generated/sigil/admin/v1/PolicyVersion.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { PolicyVersionRecord } from '../../datastore/records.js'
import { agentFacts, workloadFacts } from '../../policy/signing-policy.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { unary } from './unary.js'

/** Most problems listed in an INVALID_ARGUMENT message. */
const MAX_PROBLEMS = 5

/** A `PolicyError` as INVALID_ARGUMENT naming each problem's line and column. */
export function policyInvalid(e: PolicyError): SigilError {
  const problems = e.problems.slice(0, MAX_PROBLEMS).map((p) => {
    const where = p.line === undefined ? '' : `line ${p.line}, column ${p.column}: `
    const id = p.policyId === undefined ? '' : ` (policy "${p.policyId}")`
    return `${where}${p.message}${id}`
  })
  const more = e.problems.length > MAX_PROBLEMS ? `; and ${e.problems.length - MAX_PROBLEMS} more` : ''
  return new SigilError(
    'ERR_INVALID_ARGUMENT',
    `invalid policy: ${problems.length > 0 ? problems.join('; ') : e.message}${more}`,
    { cause: e },
  )
}

function versionMessage(r: PolicyVersionRecord, withText: boolean): PolicyVersion {
  return {
    version: r.version,
    text: withText ? r.text : '',
    sha256: r.sha256,
    created_at: Math.floor(r.createdAt.getTime() / 1000),
    admin_caller: r.adminCaller,
    policy_ids: [...r.policyIds],
  }
}

/** The policy handlers. */
export function policyHandlers(
  deps: AdminApiDeps,
): Pick<AdminAPIHandlers, 'SetPolicy' | 'GetPolicy' | 'ListPolicies' | 'TestPolicy'> {
  const { logger } = deps
  const store = () => {
    if (deps.policies === undefined)
      throw new SigilError('ERR_UNAVAILABLE', 'policies are not enabled on this server')
    return deps.policies
  }
  return {
    SetPolicy: unary('SetPolicy', logger, async (req) => {
      if (req.clear && req.text !== '') throw new SigilError('ERR_INVALID_ARGUMENT', 'clear takes no text')
      if (!req.clear && req.text.trim() === '') {
        throw new SigilError(
          'ERR_INVALID_ARGUMENT',
          'the policy text is empty (use clear to remove the policy)',
        )
      }
      try {
        const { record } = await store().set(req.text, '')
        return { policy: versionMessage(record, true) }
      } catch (e) {
        if (e instanceof PolicyError) throw policyInvalid(e)
        throw e
      }
    }),

    GetPolicy: unary('GetPolicy', logger, async (req) => {
      const version = Number(req.version)
      if (!Number.isSafeInteger(version) || version < 0)
        throw new SigilError('ERR_INVALID_ARGUMENT', 'version must be a whole number >= 0')
      const inForce = store().inForce().version
      const wanted = version === 0 ? inForce : version
      const record = wanted === 0 ? undefined : await store().version(wanted)
      if (record === undefined) {
        throw new SigilError(
          'ERR_NOT_FOUND',
          version === 0 ? 'no policy is set' : `policy version ${version} does not exist`,
        )
      }
      return { policy: versionMessage(record, true) }
    }),

    ListPolicies: unary('ListPolicies', logger, async () => {
      const records = await store().history()
      return { policies: records.map((r) => versionMessage(r, false)) }
    }),

    TestPolicy: unary('TestPolicy', logger, async (req) => {
      const action = req.action as PolicyAction
      if (!POLICY_ACTIONS.includes(action)) {
        throw new SigilError('ERR_INVALID_ARGUMENT', `action must be one of ${POLICY_ACTIONS.join(', ')}`)
      }
      if (req.resource === '') throw new SigilError('ERR_INVALID_ARGUMENT', 'resource is required')
      const context = parseTestContext(req.context_json, deps.clock())
      const check = await testPrincipal(deps, req.principal, req.entry_id, action, req.resource, context)
      let set = store().point.current
      let version = store().point.version
      if (req.text !== '') {
        try {
          set = CompiledPolicySet.compile(req.text, 0)
          version = 0
        } catch (e) {
          if (e instanceof PolicyError) throw policyInvalid(e)
          throw e
        }
      }
      if (set === undefined) {
        return {
          decision: 'allow',
          policy_ids: [],
          errors: [],
          version,
          reason: 'no policy is set: entries alone decide',
        }
      }
      let d: ReturnType<CompiledPolicySet['authorize']>
      try {
        d = set.authorize(policyRequest(check))
      } catch (e) {
        throw new SigilError('ERR_INVALID_ARGUMENT', `malformed request: ${(e as Error).message}`)
      }
      return {
        decision: d.decision,
        policy_ids: d.policyIds,
        errors: d.errors,
        version,
        reason: describeDecision(d),
      }
    }),
  }
}

interface TestContext {
  readonly now: Date
  readonly task?: TaskFacts
  readonly request?: ReturnType<typeof requestDetailsFrom>
}

/** `--context`: a JSON object of request details, plus optional `time` (unix seconds) and `task`. */
export function parseTestContext(json: string, now: Date): TestContext {
  if (json.trim() === '') return { now }
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch (e) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `context is not JSON: ${(e as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      `context must be a JSON object, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    )
  }
  const { time, task, ...rest } = value as Record<string, unknown>
  let at = now
  if (time !== undefined) {
    if (!Number.isSafeInteger(time) || (time as number) < 0)
      throw new SigilError('ERR_INVALID_ARGUMENT', 'context "time" must be unix seconds (a whole number)')
    at = new Date((time as number) * 1000)
  }
  let request: TestContext['request']
  if (Object.keys(rest).length > 0) {
    try {
      request = requestDetailsFrom(rest)
    } catch (e) {
      throw new SigilError('ERR_INVALID_ARGUMENT', (e as Error).message)
    }
  }
  return {
    now: at,
    ...(task === undefined ? {} : { task: taskFromJson(task, at) }),
    ...(request === undefined ? {} : { request }),
  }
}

function taskFromJson(v: unknown, now: Date): TaskFacts {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new SigilError('ERR_INVALID_ARGUMENT', 'context "task" must be a JSON object')
  const t = v as Record<string, unknown>
  const str = (k: string): string => {
    const x = t[k] ?? ''
    if (typeof x !== 'string')
      throw new SigilError('ERR_INVALID_ARGUMENT', `context task "${k}" must be a string`)
    return x
  }
  const list = (k: string): string[] => {
    const x = t[k] ?? []
    if (!Array.isArray(x) || !x.every((s) => typeof s === 'string'))
      throw new SigilError('ERR_INVALID_ARGUMENT', `context task "${k}" must be an array of strings`)
    return x
  }
  const deadline = t.deadline ?? Math.floor(now.getTime() / 1000) + 3600
  if (!Number.isSafeInteger(deadline))
    throw new SigilError('ERR_INVALID_ARGUMENT', 'context task "deadline" must be unix seconds')
  return {
    id: str('id') || 'test-task',
    purpose: str('purpose'),
    scope: list('scope'),
    deadline: new Date((deadline as number) * 1000),
    actChain: list('actChain'),
    onBehalfOf: str('onBehalfOf'),
  }
}

async function testPrincipal(
  deps: AdminApiDeps,
  principal: string,
  entryId: string,
  action: PolicyAction,
  resource: string,
  ctx: TestContext,
): Promise<PolicyCheck> {
  let id: string
  try {
    id = SpiffeId.parse(principal).toString()
  } catch {
    throw new SigilError('ERR_INVALID_ARGUMENT', 'principal must be a SPIFFE ID (a workload or an agent)')
  }
  const base = {
    action,
    resource,
    now: ctx.now,
    ...(ctx.task === undefined ? {} : { task: ctx.task }),
    ...(ctx.request === undefined ? {} : { request: ctx.request }),
  }
  const entries = (await deps.datastore.listEntries({ spiffeId: id, node: false })).filter(
    (e) => entryId === '' || e.id === entryId,
  )
  if (entries.length > 1) {
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      `${entries.length} entries issue ${id}; pick one with --entry-id (${entries.map((e) => e.id).join(', ')})`,
    )
  }
  const entry = entries[0]
  if (entry !== undefined) {
    const agent = await deps.datastore.getAttestedAgent(entry.parentId)
    return {
      ...base,
      workload: workloadFacts(entry),
      ...(agent === undefined ? {} : { agent: agentFacts(agent) }),
    }
  }
  if (entryId !== '') throw new SigilError('ERR_NOT_FOUND', `no entry ${entryId} issues ${id}`)
  const agent = await deps.datastore.getAttestedAgent(id)
  if (agent !== undefined) {
    if (action !== 'FetchX509SVID' && action !== 'FetchJWTSVID')
      throw new SigilError(
        'ERR_INVALID_ARGUMENT',
        `an Agent may be the principal of FetchX509SVID and FetchJWTSVID only`,
      )
    return { ...base, agent: agentFacts(agent) }
  }
  throw new SigilError('ERR_NOT_FOUND', `no registration entry or attested agent has SPIFFE ID ${id}`)
}
