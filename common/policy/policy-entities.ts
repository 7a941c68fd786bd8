/**
 * Builders for the entities and context of a policy request, so that the agent, the
 * server and `policy test` describe the same caller the same way (the shapes are those of
 * `SIGIL_SCHEMA`; Cedar refuses a request that does not match it).
 *
 * ```ts
 * const workload = workloadEntity({ spiffeId, entryId, selectors, owner: 'payments-team' })
 * const task = taskEntity({ id, purpose, scope: ['payments'], deadline, actChain: [] })
 * set.authorize({
 *   principal: entityRef(workload), action: 'FetchJWTSVID', resource: audienceRef('payments'),
 *   context: buildContext({ now: new Date(), task, audiences: ['payments'] }),
 *   entities: [workload, task, audienceEntity('payments')],
 * })
 * ```
 */
import type { EntityJson, EntityRef, PolicyValue } from './policy-engine.js'
import { PolicyError } from './policy-engine.js'

export interface WorkloadFacts {
  spiffeId: string
  entryId?: string
  owner?: string
  purpose?: string
  risk?: string
  /** Selectors as `type:value` strings. */
  selectors?: readonly string[]
  uid?: number
  executable?: string
  scriptPath?: string
  /** The SPIFFE ID of the agent that attested the process (the Workload's parent entity). */
  agentId?: string
}

export interface AgentFacts {
  spiffeId: string
  attestationType?: string
  selectors?: readonly string[]
}

export interface TaskFacts {
  id: string
  purpose?: string
  scope?: readonly string[]
  /** The task's deadline. */
  deadline: Date
  /** The subjects of the RFC 8693 `act` chain, outermost first. */
  actChain?: readonly string[]
  onBehalfOf?: string
}

export interface RequestDetails {
  method?: string
  path?: string
  host?: string
  operation?: string
  amount?: number
  labels?: readonly string[]
}

export interface ContextFacts {
  now: Date
  task?: EntityJson
  delegationChain?: readonly string[]
  audiences?: readonly string[]
  request?: RequestDetails
}

export function entityRef(entity: EntityJson): EntityRef {
  const uid = entity.uid as EntityRef | { __entity: EntityRef }
  return '__entity' in uid ? uid.__entity : uid
}

export function workloadEntity(w: WorkloadFacts): EntityJson {
  const { trustDomain, path } = splitSpiffeId(w.spiffeId)
  const attrs: Record<string, PolicyValue> = {
    spiffeId: w.spiffeId,
    trustDomain,
    path,
    entryId: w.entryId ?? '',
    owner: w.owner ?? '',
    purpose: w.purpose ?? '',
    risk: w.risk ?? '',
    selectors: [...(w.selectors ?? [])],
  }
  if (w.uid !== undefined) attrs.uid = w.uid
  if (w.executable !== undefined) attrs.executable = w.executable
  if (w.scriptPath !== undefined) attrs.scriptPath = w.scriptPath
  return {
    uid: { type: 'Sigil::Workload', id: w.spiffeId },
    attrs: attrs as EntityJson['attrs'],
    parents: w.agentId === undefined ? [] : [{ type: 'Sigil::Agent', id: w.agentId }],
  }
}

export function agentEntity(a: AgentFacts): EntityJson {
  return {
    uid: { type: 'Sigil::Agent', id: a.spiffeId },
    attrs: {
      spiffeId: a.spiffeId,
      attestationType: a.attestationType ?? '',
      selectors: [...(a.selectors ?? [])],
    },
    parents: [],
  }
}

export function taskEntity(t: TaskFacts): EntityJson {
  return {
    uid: { type: 'Sigil::Task', id: t.id },
    attrs: {
      id: t.id,
      purpose: t.purpose ?? '',
      scope: [...(t.scope ?? [])],
      deadline: Math.floor(t.deadline.getTime() / 1000),
      actChain: [...(t.actChain ?? [])],
      onBehalfOf: t.onBehalfOf ?? '',
    },
    parents: [],
  }
}

export function identityRef(spiffeId: string): EntityRef {
  return { type: 'Sigil::Identity', id: spiffeId }
}

export function identityEntity(spiffeId: string): EntityJson {
  const { trustDomain, path } = splitSpiffeId(spiffeId)
  return { uid: identityRef(spiffeId), attrs: { spiffeId, trustDomain, path }, parents: [] }
}

export function audienceRef(audience: string): EntityRef {
  return { type: 'Sigil::Audience', id: audience }
}

export function audienceEntity(audience: string): EntityJson {
  return { uid: audienceRef(audience), attrs: { name: audience }, parents: [] }
}

export function toolRef(name: string): EntityRef {
  return { type: 'Sigil::Tool', id: name }
}

export function toolEntity(name: string): EntityJson {
  return { uid: toolRef(name), attrs: { name }, parents: [] }
}

/** The request context every action takes (times in Unix seconds, UTC). */
export function buildContext(c: ContextFacts): Record<string, PolicyValue> {
  const chain = [...(c.delegationChain ?? [])]
  const context: Record<string, PolicyValue> = {
    time: Math.floor(c.now.getTime() / 1000),
    hourUtc: c.now.getUTCHours(),
    weekdayUtc: c.now.getUTCDay(),
    inTask: c.task !== undefined,
    delegationChain: chain,
    delegationDepth: chain.length,
    audiences: [...(c.audiences ?? [])],
  }
  if (c.task !== undefined) context.task = { __entity: entityRef(c.task) } as unknown as PolicyValue
  if (c.request !== undefined) context.request = requestDetails(c.request)
  return context
}

const REQUEST_KEYS = new Set(['method', 'path', 'host', 'operation', 'amount', 'labels'])

/**
 * Parses caller-supplied context (`policy test --context`, `Authorize`): a JSON object whose
 * keys are request details (`method`, `path`, `host`, `operation`, `amount`, `labels`).
 * Anything else is refused with a message naming the key, since strict validation would
 * otherwise turn it into an opaque engine error.
 */
export function parseRequestDetails(json: string): RequestDetails {
  let value: unknown
  try {
    value = json.trim() === '' ? {} : JSON.parse(json)
  } catch (err) {
    throw new PolicyError(`context is not valid JSON: ${(err as Error).message}`, [
      { message: 'invalid JSON' },
    ])
  }
  return requestDetailsFrom(value)
}

/** Checks a decoded context object (see `parseRequestDetails`). */
export function requestDetailsFrom(value: unknown): RequestDetails {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PolicyError('context must be a JSON object', [{ message: 'context is not an object' }])
  }
  const out: RequestDetails = {}
  for (const [key, v] of Object.entries(value)) {
    if (!REQUEST_KEYS.has(key)) {
      throw new PolicyError(
        `context key "${key}" is not in the schema (allowed: ${[...REQUEST_KEYS].join(', ')})`,
        [{ message: `unknown context key "${key}"` }],
      )
    }
    if (key === 'amount') {
      if (!Number.isSafeInteger(v))
        throw new PolicyError('context "amount" must be an integer', [{ message: 'amount' }])
      out.amount = v as number
    } else if (key === 'labels') {
      if (!Array.isArray(v) || !v.every((l) => typeof l === 'string')) {
        throw new PolicyError('context "labels" must be an array of strings', [{ message: 'labels' }])
      }
      out.labels = v as string[]
    } else {
      if (typeof v !== 'string')
        throw new PolicyError(`context "${key}" must be a string`, [{ message: key }])
      ;(out as Record<string, string>)[key] = v
    }
  }
  return out
}

function requestDetails(r: RequestDetails): Record<string, PolicyValue> {
  const out: Record<string, PolicyValue> = {}
  for (const key of ['method', 'path', 'host', 'operation'] as const) {
    if (r[key] !== undefined) out[key] = r[key]
  }
  if (r.amount !== undefined) out.amount = r.amount
  if (r.labels !== undefined) out.labels = [...r.labels]
  return out
}

function splitSpiffeId(id: string): { trustDomain: string; path: string } {
  const rest = id.startsWith('spiffe://') ? id.slice('spiffe://'.length) : id
  const slash = rest.indexOf('/')
  return slash < 0
    ? { trustDomain: rest, path: '' }
    : { trustDomain: rest.slice(0, slash), path: rest.slice(slash) }
}
