/**
 * The rules a BeginTask request must pass before anything is signed (see task-service.ts): a
 * printable purpose, a small scope of audiences all inside the entry's task scopes, a TTL at most
 * the entry's max task TTL. Refusals are `ERR_INVALID_ARGUMENT` (malformed, TTL too long) or
 * `ERR_NOT_AUTHORIZED` (the entry may not begin this task).
 */
import { SigilError } from '../../certs/errors.js'
import { checkScope } from '../../certs/txntoken/sign-txn-token.js'
import type { RegistrationEntry } from '../datastore/datastore.js'

/** Max task TTL for an entry that sets none (seconds). */
export const DEFAULT_MAX_TASK_TTL_SECONDS = 3600
/** Longest purpose text (bytes). */
export const MAX_PURPOSE_BYTES = 256
/** Most scope values per task. */
export const MAX_TASK_SCOPE = 32

/** Outcomes a task's own process may report. */
export const PROCESS_OUTCOMES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled'])
/** Outcomes only the agent reports (drifted: agent-side policy denied a caller inside the task). */
export const AGENT_OUTCOMES: ReadonlySet<string> = new Set(['expired', 'process_exited', 'drifted'])
/** Longest reason the agent may give when it ends a task (bytes). */
export const MAX_END_REASON_BYTES = 512

/**
 * The checked scope and TTL (seconds) of a BeginTask request under `entry`.
 *
 * @example
 * const { scope, ttl } = checkBeginRequest(entry, { purpose: 'report', scope: [aud], ttlSeconds: 0 })
 */
export function checkBeginRequest(
  entry: RegistrationEntry,
  req: { readonly purpose: string; readonly scope: readonly string[]; readonly ttlSeconds: number },
): { scope: string[]; ttl: number } {
  checkPurpose(req.purpose)
  if (req.scope.length > MAX_TASK_SCOPE) invalid(`at most ${MAX_TASK_SCOPE} scope values`)
  const scope = checkScope(req.scope)
  if (entry.taskScopes.length === 0)
    notAuthorized(`entry ${entry.id} (${entry.spiffeId}) may not begin tasks`)
  const outside = scope.filter((s) => !entry.taskScopes.includes(s))
  if (outside.length > 0)
    notAuthorized(`scope outside the entry's task scopes: ${outside.join(' ').slice(0, 256)}`)
  const maxTtl = entry.maxTaskTtl || DEFAULT_MAX_TASK_TTL_SECONDS
  const ttl = req.ttlSeconds || maxTtl
  if (!Number.isSafeInteger(ttl) || ttl < 0) invalid('ttl_seconds must be a whole number >= 0')
  if (ttl > maxTtl) invalid(`ttl ${ttl}s is above the entry's max task TTL ${maxTtl}s`)
  return { scope, ttl }
}

/** Throws `ERR_INVALID_ARGUMENT`. */
export function invalid(why: string): never {
  throw new SigilError('ERR_INVALID_ARGUMENT', why)
}

/** Throws `ERR_NOT_AUTHORIZED`. */
export function notAuthorized(why: string): never {
  throw new SigilError('ERR_NOT_AUTHORIZED', why)
}

function checkPurpose(purpose: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (Buffer.byteLength(purpose) > MAX_PURPOSE_BYTES || /[\u0000-\u001f\u007f]/.test(purpose)) {
    invalid(`purpose must be at most ${MAX_PURPOSE_BYTES} bytes of printable text`)
  }
}
