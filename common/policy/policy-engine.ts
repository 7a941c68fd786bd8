/**
 * Cedar policy evaluation for both daemons, on the official engine
 * (`@cedar-policy/cedar-wasm`, its `nodejs` entry).
 *
 * A policy set is compiled once per version: `CompiledPolicySet.compile(text, version)`
 * parses it, gives each policy its `@id("…")` annotation as its Cedar policy ID (so a
 * decision names the policies that made it), validates it against `SIGIL_SCHEMA` in
 * strict mode, and pre-parses it into the engine's cache. `authorize()` then evaluates a
 * request against the pre-parsed set; nothing is re-parsed per call.
 *
 * Decisions are Cedar's (default deny, forbid overrides permit) plus one of ours: when
 * Cedar allows and at least one of the permits that decided it is annotated
 * `@approval("required")`, the decision is `hold` (a human must approve; see the
 * approval service). A permit without the annotation does not lift the hold: the
 * annotation marks the request as high-risk whatever else also permits it.
 *
 * ```ts
 * const set = CompiledPolicySet.compile(text, 3) // throws PolicyError with line/column
 * const d = set.authorize({ principal, action: 'FetchJWTSVID', resource, context, entities })
 * if (d.decision !== 'allow') throw new Error(describeDecision(d))
 * ```
 */
import { createHash } from 'node:crypto'
import type { DetailedError, EntityJson, SourceLabel } from '@cedar-policy/cedar-wasm/nodejs'
import cedar from '@cedar-policy/cedar-wasm/nodejs'
import { POLICY_ACTIONS, type PolicyAction, SIGIL_SCHEMA } from './sigil-schema.js'

export type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs'

/** A Cedar entity reference (`Sigil::Workload::"spiffe://…"` is `{ type: 'Sigil::Workload', id: 'spiffe://…' }`). */
export interface EntityRef {
  type: string
  id: string
}

/** A Cedar value as JSON (entity references as `{ __entity: { type, id } }`). */
export type PolicyValue = boolean | number | string | PolicyValue[] | { [key: string]: PolicyValue } | null

export interface PolicyRequest {
  principal: EntityRef
  action: PolicyAction
  resource: EntityRef
  context: Record<string, PolicyValue>
  /** Every entity the policies may read (principal, its parents, the task, the resource). */
  entities: EntityJson[]
}

export interface PolicyDecision {
  decision: 'allow' | 'deny' | 'hold'
  /** The policies that decided (Cedar's "reason"); `[]` for a default deny. */
  policyIds: string[]
  /** Evaluation errors (a policy that errored is skipped, as Cedar does). */
  errors: string[]
}

export interface PolicyProblem {
  message: string
  line?: number
  column?: number
  policyId?: string
}

/** A policy set that does not parse or does not validate against the schema. */
export class PolicyError extends Error {
  readonly code = 'ERR_POLICY_INVALID'
  constructor(
    message: string,
    readonly problems: PolicyProblem[],
  ) {
    super(message)
    this.name = 'PolicyError'
  }
}

/** The largest policy text we compile (10,000 small policies fit many times over). */
export const MAX_POLICY_TEXT_BYTES = 16 * 1024 * 1024

const SCHEMA_NAME = 'sigil-schema'
let schemaReady = false
function ensureSchema(): void {
  if (schemaReady) return
  const answer = cedar.preparseSchema(SCHEMA_NAME, SIGIL_SCHEMA)
  if (answer.type !== 'success')
    throw new Error(`the built-in Cedar schema does not parse: ${answer.errors[0]?.message}`)
  schemaReady = true
}

/** The parsed, validated policy set as plain data (it crosses threads by structured clone). */
export interface PolicyAnalysis {
  readonly policies: Record<string, string>
  readonly approvalIds: Set<string>
  readonly byAction: Map<PolicyAction, string[]>
}

/** Texts this large or larger are compiled on a worker thread by `compileOffThread` (≈ 700 policies). */
export const OFF_THREAD_MIN_BYTES = 128 * 1024

/**
 * The engine caches pre-parsed policy sets by name for the life of the process and has no
 * way to drop one, so compiled sets share a small ring of names: a set whose slot was
 * taken by a newer one pre-parses itself again on its next use (rare: only when more than
 * `SLOTS` / 5 versions are used at once). Each set is pre-parsed per action, holding only
 * the policies whose action scope can match that action: a policy scoped to other actions
 * cannot be satisfied, so leaving it out changes no decision and saves its evaluation.
 */
const SLOTS = 40
const slotOwner: (CompiledPolicySet | undefined)[] = new Array(SLOTS)
const slotAction: (PolicyAction | undefined)[] = new Array(SLOTS)
const DECISION_CACHE_SIZE = 4096
let nextSlot = 0

export class CompiledPolicySet {
  readonly policyIds: string[]
  readonly sha256: string
  private readonly policies: Record<string, string>
  private readonly approvalIds: Set<string>
  /** Policy ids whose action scope can match each action (Cedar "policy slicing" on the action). */
  private readonly byAction: Map<PolicyAction, string[]>
  private readonly slots = new Map<PolicyAction, number>()
  /** Decisions for identical requests within one second (`context.time`): Cedar is deterministic. */
  private cache = new Map<string, PolicyDecision>()
  private cacheSecond: PolicyValue = null

  private constructor(
    readonly text: string,
    readonly version: number,
    policies: Record<string, string>,
    approvalIds: Set<string>,
    byAction: Map<PolicyAction, string[]>,
  ) {
    this.byAction = byAction
    this.policies = policies
    this.policyIds = Object.keys(policies)
    this.approvalIds = approvalIds
    this.sha256 = createHash('sha256').update(text).digest('hex')
  }

  /** Parses and validates `text`; throws `PolicyError` naming each problem's line and column. */
  static compile(text: string, version: number): CompiledPolicySet {
    const a = CompiledPolicySet.analyze(text)
    return new CompiledPolicySet(text, version, a.policies, a.approvalIds, a.byAction)
  }

  /**
   * {@link compile} without blocking the event loop for a large set: a text of
   * {@link OFF_THREAD_MIN_BYTES} or more is parsed and validated on a worker thread (its own Cedar
   * engine; the compiled set is plain data, see `policy-compile-worker.ts`), a smaller one here.
   * Rejects `PolicyError` exactly as `compile` throws it. The per-action slices are still prepared
   * here, lazily, at the first decision of each action.
   */
  static async compileOffThread(text: string, version: number): Promise<CompiledPolicySet> {
    if (typeof text !== 'string' || Buffer.byteLength(text) < OFF_THREAD_MIN_BYTES)
      return CompiledPolicySet.compile(text, version)
    const { analyzeOffThread } = await import('./policy-compile-worker.js')
    const a = await analyzeOffThread(text)
    return new CompiledPolicySet(text, version, a.policies, a.approvalIds, a.byAction)
  }

  /** The parsed and validated pieces of `text` (what `compile` keeps); throws `PolicyError`. */
  static analyze(text: string): PolicyAnalysis {
    if (typeof text !== 'string') throw new TypeError('policy text must be a string')
    if (Buffer.byteLength(text) > MAX_POLICY_TEXT_BYTES) {
      throw new PolicyError(`policy text is larger than ${MAX_POLICY_TEXT_BYTES} bytes`, [
        { message: 'too large' },
      ])
    }
    ensureSchema()
    const parsed = cedar.checkParsePolicySet({ staticPolicies: text })
    if (parsed.type !== 'success') throw problemsError('policy does not parse', text, 0, parsed.errors)
    const parts = cedar.policySetTextToParts(text)
    if (parts.type !== 'success') throw problemsError('policy does not parse', text, 0, parts.errors)
    if (parts.policy_templates.length > 0) {
      throw new PolicyError('policy templates are not supported; write static policies', [
        { message: 'templates are not supported' },
      ])
    }
    const policies: Record<string, string> = {}
    const offsets = new Map<string, number>()
    const approvalIds = new Set<string>()
    const byAction = new Map<PolicyAction, string[]>(POLICY_ACTIONS.map((a) => [a, []]))
    let cursor = 0
    let charCursor = 0
    let byteCursor = 0
    parts.policies.forEach((policyText, index) => {
      const at = text.indexOf(policyText, cursor)
      const charOffset = at >= 0 ? at : cursor
      if (at >= 0) cursor = at + policyText.length
      byteCursor += Buffer.byteLength(text.slice(charCursor, charOffset))
      charCursor = charOffset
      const offset = byteCursor
      const json = cedar.policyToJson(policyText)
      if (json.type !== 'success') throw problemsError('policy does not parse', text, offset, json.errors)
      const annotations = json.json.annotations ?? {}
      const id = annotations.id ?? `policy${index}`
      if (Object.hasOwn(policies, id)) {
        const { line, column } = lineColumn(text, offset)
        throw new PolicyError(`policy id "${id}" is used twice (line ${line}, column ${column})`, [
          { message: `duplicate policy id "${id}"`, line, column, policyId: id },
        ])
      }
      if (annotations.approval !== undefined && annotations.approval !== 'required') {
        const { line, column } = lineColumn(text, offset)
        throw new PolicyError(
          `policy "${id}": @approval takes only "required" (line ${line}, column ${column})`,
          [{ message: '@approval must be "required"', line, column, policyId: id }],
        )
      }
      if (annotations.approval === 'required') {
        if (json.json.effect !== 'permit') {
          const { line, column } = lineColumn(text, offset)
          throw new PolicyError(
            `policy "${id}": @approval applies to permit policies only (line ${line}, column ${column})`,
            [{ message: '@approval on a forbid policy', line, column, policyId: id }],
          )
        }
        approvalIds.add(id)
      }
      policies[id] = policyText
      offsets.set(id, offset)
      for (const action of POLICY_ACTIONS) {
        if (actionMayMatch(json.json.action, action)) byAction.get(action)?.push(id)
      }
    })
    const validation = cedar.validate({
      schema: SIGIL_SCHEMA,
      policies: { staticPolicies: policies },
      validationSettings: { mode: 'strict' },
    })
    if (validation.type !== 'success')
      throw problemsError('policy does not validate', text, 0, validation.errors)
    if (validation.validationErrors.length > 0) {
      const problems: PolicyProblem[] = []
      const seen = new Set<string>()
      for (const { policyId, error } of validation.validationErrors.slice(0, 200)) {
        const base = offsets.get(policyId) ?? 0
        const start = error.sourceLocations?.[0]?.start
        const where = start === undefined ? {} : lineColumn(text, base + start)
        const problem: PolicyProblem = { message: error.message, ...where, policyId }
        const key = `${problem.line}:${problem.column}:${stripActionDetail(error.message)}`
        if (seen.has(key)) continue // the validator repeats one mistake once per action it applies to
        seen.add(key)
        problems.push(problem)
      }
      throw new PolicyError(
        `policy does not validate against the Sigil schema: ${formatProblem(problems[0])}`,
        problems,
      )
    }
    return { policies, approvalIds, byAction }
  }

  /** Evaluates one request. Never throws for a well-formed request; a malformed one throws `TypeError`. */
  authorize(request: PolicyRequest): PolicyDecision {
    const second = request.context.time ?? null
    if (second !== this.cacheSecond || this.cache.size >= DECISION_CACHE_SIZE) {
      this.cache = new Map()
      this.cacheSecond = second
    }
    const key = JSON.stringify(request)
    const cached = this.cache.get(key)
    if (cached !== undefined)
      return { ...cached, policyIds: [...cached.policyIds], errors: [...cached.errors] }
    const decision = this.evaluate(request)
    this.cache.set(key, decision)
    return { ...decision, policyIds: [...decision.policyIds], errors: [...decision.errors] }
  }

  private evaluate(request: PolicyRequest): PolicyDecision {
    if (!POLICY_ACTIONS.includes(request.action))
      throw new TypeError(`unknown policy action "${request.action}"`)
    const preparsedPolicySetId = this.ensurePreparsed(request.action)
    const answer = cedar.statefulIsAuthorized({
      principal: request.principal,
      action: { type: 'Sigil::Action', id: request.action },
      resource: request.resource,
      context: request.context as Record<string, never>,
      entities: request.entities,
      preparsedPolicySetId,
      preparsedSchemaName: SCHEMA_NAME,
      validateRequest: true,
    })
    if (answer.type !== 'success') {
      throw new TypeError(`malformed policy request: ${answer.errors.map((e) => e.message).join('; ')}`)
    }
    const { decision, diagnostics } = answer.response
    const policyIds = [...diagnostics.reason].sort()
    const errors = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`)
    if (decision === 'allow' && policyIds.some((id) => this.approvalIds.has(id))) {
      return { decision: 'hold', policyIds: policyIds.filter((id) => this.approvalIds.has(id)), errors }
    }
    return { decision, policyIds, errors }
  }

  /** True when the policy with this id is annotated `@approval("required")`. */
  requiresApproval(policyId: string): boolean {
    return this.approvalIds.has(policyId)
  }

  private ensurePreparsed(action: PolicyAction): string {
    const owned = this.slots.get(action)
    if (owned !== undefined && slotOwner[owned] === this && slotAction[owned] === action)
      return slotName(owned)
    const slot = nextSlot
    nextSlot = (nextSlot + 1) % SLOTS
    const slice: Record<string, string> = {}
    for (const id of this.byAction.get(action) ?? []) slice[id] = this.policies[id] as string
    const answer = cedar.preparsePolicySet(slotName(slot), { staticPolicies: slice })
    if (answer.type !== 'success')
      throw new Error(`a compiled policy set failed to pre-parse: ${answer.errors[0]?.message}`)
    slotOwner[slot] = this
    slotAction[slot] = action
    this.slots.set(action, slot)
    return slotName(slot)
  }
}

/** A one-line reason for a decision, naming the deciding policies (for `PermissionDenied` messages and logs). */
export function describeDecision(d: PolicyDecision): string {
  const ids = d.policyIds.map((id) => `"${id}"`).join(', ')
  switch (d.decision) {
    case 'allow':
      return `allowed by policy ${ids}`
    case 'hold':
      return `approval required by policy ${ids}`
    default:
      return d.policyIds.length > 0 ? `denied by policy ${ids}` : 'denied: no policy permits this request'
  }
}

function slotName(slot: number): string {
  return `sigil-policy-slot-${slot}`
}

function stripActionDetail(message: string): string {
  return message.replace(/ for Sigil::Action::"[^"]*"/g, '')
}

function formatProblem(p: PolicyProblem | undefined): string {
  if (p === undefined) return 'unknown problem'
  const where = p.line === undefined ? '' : ` (line ${p.line}, column ${p.column})`
  return `${p.message}${where}`
}

function problemsError(summary: string, text: string, base: number, errors: DetailedError[]): PolicyError {
  const problems = errors.map((error): PolicyProblem => {
    const location: SourceLabel | undefined = error.sourceLocations?.[0]
    const where = location === undefined ? {} : lineColumn(text, base + location.start)
    const detail = location?.label ? ` (${location.label})` : ''
    return { message: `${error.message}${detail}`, ...where }
  })
  return new PolicyError(`${summary}: ${formatProblem(problems[0])}`, problems)
}

/** 1-based line and column (in characters) of a UTF-8 byte offset into `text` (Cedar reports byte offsets). */
function lineColumn(text: string, byteOffset: number): { line: number; column: number } {
  const offset = Buffer.from(text).subarray(0, Math.max(0, byteOffset)).toString('utf8').length
  let line = 1
  let lineStart = 0
  const end = Math.min(offset, text.length)
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: end - lineStart + 1 }
}

/** False only when the policy's action scope names actions and `action` is not one of them. */
function actionMayMatch(scope: unknown, action: PolicyAction): boolean {
  const s = scope as {
    op?: string
    entity?: { type?: string; id?: string }
    entities?: { type?: string; id?: string }[]
  }
  const named = (e: { type?: string; id?: string } | undefined): boolean =>
    e?.type === 'Sigil::Action' && e.id === action
  if (s?.op === '==') return named(s.entity) || s.entity?.type !== 'Sigil::Action'
  if (s?.op === 'in') {
    if (Array.isArray(s.entities)) return s.entities.some((e) => named(e) || e.type !== 'Sigil::Action')
    return named(s.entity) || s.entity?.type !== 'Sigil::Action'
  }
  return true
}
