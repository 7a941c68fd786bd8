/**
 * The policy decision point both daemons embed (issue 14): the agent for every Workload API and
 * Task API call, the server for every signing request. It holds the Cedar policy set in force,
 * compiled once per version (`install`), describes a caller the same way on both sides
 * (`policyRequest`), and turns a decision into the caller's answer (`enforce`): allow passes,
 * deny throws {@link PolicyDeniedError} (`ERR_NOT_AUTHORIZED`, PermissionDenied at the gRPC
 * boundary) naming the deciding policy ids, and hold goes to the `onHold` hook (approvals;
 * without one a hold is refused as "approval required (policy X)").
 *
 * With no policy installed (version 0) every check passes: entries alone decide, as before
 * policies existed.
 *
 * ```ts
 * const point = new PolicyPoint()
 * point.install(3, text) // throws PolicyError; the set in force stays
 * await point.enforce({ action: 'FetchJWTSVID', workload, resource: 'payments', now: new Date() })
 * ```
 */
import { SigilError } from '../../certs/errors.js'
import {
  CompiledPolicySet,
  describeDecision,
  type EntityJson,
  type PolicyDecision,
  type PolicyRequest,
} from './policy-engine.js'
import {
  type AgentFacts,
  agentEntity,
  audienceEntity,
  buildContext,
  entityRef,
  identityEntity,
  type RequestDetails,
  type TaskFacts,
  taskEntity,
  toolEntity,
  type WorkloadFacts,
  workloadEntity,
} from './policy-entities.js'
import type { PolicyAction } from './sigil-schema.js'

/** One request to decide: who (a workload, or the agent itself), what, on what, in which task. */
export interface PolicyCheck {
  readonly action: PolicyAction
  /** The calling workload as its registration entry (and attestation) describe it; absent: the agent itself. */
  readonly workload?: WorkloadFacts
  /** The agent that attested the workload (its parent entity), or the calling agent. */
  readonly agent?: AgentFacts
  /** A SPIFFE ID (FetchX509SVID, BeginTask), an audience (FetchJWTSVID, FetchTaskJWTSVID) or a tool name (CallTool). */
  readonly resource: string
  readonly task?: TaskFacts
  /** Every audience of the request (a JWT-SVID may name several; each is also checked as the resource). */
  readonly audiences?: readonly string[]
  readonly request?: RequestDetails
  readonly now: Date
}

/**
 * A decision the caller must wait for (approvals): resolves the final decision (or throws
 * {@link PolicyDeniedError}). `signal` aborts when the caller went away: stop waiting.
 */
export type HoldHandler = (
  check: PolicyCheck,
  decision: PolicyDecision,
  signal?: AbortSignal,
) => Promise<PolicyDecision>

/** The request an approval covers: exactly this principal, action, resource and task. */
export interface ApprovalKeyFacts {
  /** The caller's SPIFFE ID (the workload, else the agent). */
  readonly principal: string
  readonly action: string
  /** The resource as Cedar names it, e.g. `Sigil::Audience::"payments"` (the same form Authorize uses). */
  readonly resource: string
  /** `''` outside a task. */
  readonly taskId: string
}

/** The approval key of a check, the same at the agent and at the server. */
export function approvalKeyOf(c: PolicyCheck): ApprovalKeyFacts {
  const principal = c.workload?.spiffeId ?? c.agent?.spiffeId
  if (principal === undefined) throw new TypeError('a policy check needs a workload or an agent')
  const ref = entityRef(resourceEntity(c.action, c.resource))
  return {
    principal,
    action: c.action,
    resource: `${ref.type}::${JSON.stringify(ref.id)}`,
    taskId: c.task?.id ?? '',
  }
}

/** The refusal of a hold nobody can wait for: "approval required (policy X)". */
export function holdRefused(d: PolicyDecision, why = ''): PolicyDeniedError {
  return new PolicyDeniedError(
    { ...d, decision: 'deny' },
    `approval required (policy ${d.policyIds.map((id) => `"${id}"`).join(', ')})${why}`,
  )
}

/** A request refused by policy (`ERR_NOT_AUTHORIZED`); `decision` names the deciding policies. */
export class PolicyDeniedError extends SigilError {
  readonly decision: PolicyDecision
  constructor(decision: PolicyDecision, message: string = describeDecision(decision)) {
    super('ERR_NOT_AUTHORIZED', message)
    this.name = 'PolicyDeniedError'
    this.decision = decision
  }
}

/** True for an error thrown by {@link PolicyPoint.enforce}. */
export function isPolicyDenied(e: unknown): e is PolicyDeniedError {
  return e instanceof PolicyDeniedError
}

/** The Cedar request for a check (entities: workload or agent, the agent, the task, the resource). */
export function policyRequest(c: PolicyCheck): PolicyRequest {
  const entities: EntityJson[] = []
  const agent = c.agent === undefined ? undefined : agentEntity(c.agent)
  if (agent !== undefined) entities.push(agent)
  let principal: EntityJson
  if (c.workload !== undefined) {
    principal = workloadEntity({ ...c.workload, agentId: c.workload.agentId ?? c.agent?.spiffeId })
    entities.push(principal)
  } else if (agent !== undefined) {
    principal = agent
  } else {
    throw new TypeError('a policy check needs a workload or an agent')
  }
  const task = c.task === undefined ? undefined : taskEntity(c.task)
  if (task !== undefined) entities.push(task)
  const resource = resourceEntity(c.action, c.resource)
  entities.push(resource)
  return {
    principal: entityRef(principal),
    action: c.action,
    resource: entityRef(resource),
    context: buildContext({
      now: c.now,
      ...(task === undefined ? {} : { task }),
      delegationChain: c.task?.actChain ?? [],
      audiences: c.audiences ?? (isAudienceAction(c.action) ? [c.resource] : []),
      ...(c.request === undefined ? {} : { request: c.request }),
    }),
    entities,
  }
}

function isAudienceAction(action: PolicyAction): boolean {
  return action === 'FetchJWTSVID' || action === 'FetchTaskJWTSVID'
}

function resourceEntity(action: PolicyAction, resource: string): EntityJson {
  switch (action) {
    case 'FetchX509SVID':
    case 'BeginTask':
      return identityEntity(resource)
    case 'FetchJWTSVID':
    case 'FetchTaskJWTSVID':
      return audienceEntity(resource)
    case 'CallTool':
      return toolEntity(resource)
  }
}

/**
 * The policy set in force and the decisions against it.
 *
 * @example
 * const point = new PolicyPoint({ onHold: approvals.wait })
 * point.install(update.version, update.text)
 */
export class PolicyPoint {
  #set: CompiledPolicySet | undefined
  #version = 0
  #sha256 = ''
  /** Called for a hold; default: refuse with "approval required (policy X)". */
  onHold: HoldHandler | undefined

  constructor(opts: { onHold?: HoldHandler } = {}) {
    this.onHold = opts.onHold
  }

  /** The version in force; 0: no policy. */
  get version(): number {
    return this.#version
  }

  /** SHA-256 of the text in force (`''` with no policy). */
  get sha256(): string {
    return this.#sha256
  }

  /** The compiled set in force, or undefined with no policy. */
  get current(): CompiledPolicySet | undefined {
    return this.#set
  }

  /**
   * Puts `text` in force as `version`, compiling it unless this version is already in force;
   * `''` (or version 0) means no policy. Throws `PolicyError` for a text that does not compile:
   * the set in force stays. Returns true when something changed.
   */
  install(version: number, text: string): boolean {
    if (!Number.isSafeInteger(version) || version < 0)
      throw new TypeError('version must be a whole number >= 0')
    if (version === this.#version && (this.#set?.text ?? '') === text) return false
    if (version === 0 || text === '') {
      this.#set = undefined
      this.#version = version
      this.#sha256 = ''
      return true
    }
    return this.installCompiled(CompiledPolicySet.compile(text, version))
  }

  /** Puts an already compiled set in force (the server compiles once at `policy set`). */
  installCompiled(set: CompiledPolicySet): boolean {
    if (this.#set === set) return false
    this.#set = set
    this.#version = set.version
    this.#sha256 = set.sha256
    return true
  }

  /** Cedar's decision for `check`, or undefined with no policy in force. */
  decide(check: PolicyCheck): PolicyDecision | undefined {
    const set = this.#set
    if (set === undefined) return undefined
    return set.authorize(policyRequest(check))
  }

  /**
   * Passes when no policy is in force or the policy allows; a hold waits for `onHold`; a deny
   * throws {@link PolicyDeniedError}. Resolves the decision (undefined with no policy).
   * `signal` (the caller went away) is handed to `onHold`.
   */
  async enforce(check: PolicyCheck, signal?: AbortSignal): Promise<PolicyDecision | undefined> {
    let d = this.decide(check)
    if (d === undefined || d.decision === 'allow') return d
    if (d.decision === 'hold') {
      if (this.onHold === undefined) throw holdRefused(d)
      d = await this.onHold(check, d, signal)
      if (d.decision === 'allow') return d
    }
    throw new PolicyDeniedError(d)
  }
}
