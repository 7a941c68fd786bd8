/**
 * The authorization step of the agent API: which registration entries the calling agent
 * may serve. The rule itself lives in the datastore (`listAuthorizedEntries`: entries
 * parented by the agent or by a node alias whose selectors the agent has, transitively);
 * here its result is cached per (agent, agent selectors) for as long as the datastore's
 * `entriesVersion()` stays the same, so a busy agent's SVID calls do not crawl the entry
 * graph each time, while any entry change is seen by the very next call. Every refusal is
 * logged with the agent and entry.
 */
import { createHash } from 'node:crypto'
import { SigilError } from '../../../certs/errors.js'
import { formatSelector } from '../../../certs/selector/selector.js'
import type { RegistrationEntry } from '../../datastore/datastore.js'
import type { AgentApiContext, AgentApiDataStore, AgentApiDeps } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'

/** What one agent may serve: the entries oldest first, and by ID. Shared: never mutate. */
export interface AuthorizedEntries {
  readonly list: readonly RegistrationEntry[]
  readonly byId: ReadonlyMap<string, RegistrationEntry>
  /** Hex SHA-256 over every entry's ID and revision, in list order. */
  readonly digest: string
}

/** Agents whose authorized entries are kept at most (least recently used ones go first). */
export const AUTHORIZED_CACHE_AGENTS = 4096

/**
 * Authorized entries per agent, valid for one datastore entries version.
 *
 * @example
 * const cache = new AuthorizedEntryCache(datastore)
 * const { byId } = await cache.get(caller)
 */
export class AuthorizedEntryCache {
  readonly #datastore: Pick<AgentApiDataStore, 'listAuthorizedEntries' | 'entriesVersion'>
  readonly #maxAgents: number
  readonly #byAgent = new Map<string, AuthorizedEntries>()
  #version: string | undefined
  readonly #clock: () => Date
  /** The earliest entry expiry (unix seconds) among the cached lists: they are dropped then. */
  #nextExpiry = Number.POSITIVE_INFINITY

  constructor(
    datastore: Pick<AgentApiDataStore, 'listAuthorizedEntries' | 'entriesVersion'>,
    maxAgents = AUTHORIZED_CACHE_AGENTS,
    clock: () => Date = () => new Date(),
  ) {
    this.#datastore = datastore
    this.#maxAgents = maxAgents
    this.#clock = clock
  }

  /** The caller's authorized entries (one cheap version query when cached). */
  async get(caller: AuthenticatedAgent): Promise<AuthorizedEntries> {
    const version = await this.#datastore.entriesVersion()
    if (version !== this.#version || this.#clock().getTime() / 1000 >= this.#nextExpiry) {
      this.#byAgent.clear()
      this.#version = version
      this.#nextExpiry = Number.POSITIVE_INFINITY
    }
    const agentId = caller.agentId.toString()
    const selectors = caller.agent.selectors
    const key = `${agentId}\n${selectors.map(formatSelector).sort().join('\n')}`
    const hit = this.#byAgent.get(key)
    if (hit !== undefined) {
      this.#byAgent.delete(key)
      this.#byAgent.set(key, hit)
      return hit
    }
    const list = await this.#datastore.listAuthorizedEntries(agentId, selectors)
    const hash = createHash('sha256')
    for (const e of list) hash.update(`${e.id}\n${e.revisionNumber}\n`)
    const found: AuthorizedEntries = {
      list,
      byId: new Map(list.map((e) => [e.id, e])),
      digest: hash.digest('hex'),
    }
    // Kept only if nothing changed while listing (the listing may predate that change).
    if ((await this.#datastore.entriesVersion()) === this.#version) {
      if (this.#byAgent.size >= this.#maxAgents) {
        const oldest = this.#byAgent.keys().next()
        if (!oldest.done) this.#byAgent.delete(oldest.value)
      }
      this.#byAgent.set(key, found)
      for (const e of list) if (e.entryExpiry) this.#nextExpiry = Math.min(this.#nextExpiry, e.entryExpiry)
    }
    return found
  }
}

/**
 * The caller's authorized entries by entry ID.
 *
 * @example
 * const entries = await authorizedEntries(deps, caller)
 * const entry = requireAuthorizedEntry(deps, entries, caller, entryId, 'NewJwtSvid')
 */
export async function authorizedEntries(
  deps: Pick<AgentApiContext, 'authorized'>,
  caller: AuthenticatedAgent,
): Promise<ReadonlyMap<string, RegistrationEntry>> {
  return (await deps.authorized.get(caller)).byId
}

/**
 * The entry `entryId` if the caller may serve it; otherwise logs the attempt and throws
 * `ERR_NOT_AUTHORIZED` (PERMISSION_DENIED). Unknown and unauthorized entries look the same.
 */
export function requireAuthorizedEntry(
  deps: Pick<AgentApiDeps, 'logger'>,
  entries: ReadonlyMap<string, RegistrationEntry>,
  caller: AuthenticatedAgent,
  entryId: string,
  method: string,
): RegistrationEntry {
  const entry = entries.get(entryId)
  if (entry) return entry
  deps.logger.warn(
    { method, agent_id: caller.agentId.toString(), entry_id: entryId.slice(0, 128) },
    'agent asked for an entry it is not authorized for',
  )
  throw new SigilError(
    'ERR_NOT_AUTHORIZED',
    `entry "${entryId.slice(0, 128)}" does not exist or is not authorized for this agent`,
  )
}
