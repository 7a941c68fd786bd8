/**
 * BeginTask, FetchTaskJwtSvid and EndTask on the agent API: the authenticated agent speaks for
 * one of its processes (`process_key`) attested for `entry_id`; the entry must be one the agent
 * may serve, and the decisions are the task service's (server/task/task-service.ts).
 */
import { SigilError } from '../../../certs/errors.js'
import type { BeginTaskRequest__Output } from '../../../proto/generated/sigil/agent/v1/BeginTaskRequest.js'
import type { BeginTaskResponse } from '../../../proto/generated/sigil/agent/v1/BeginTaskResponse.js'
import type { EndTaskRequest__Output } from '../../../proto/generated/sigil/agent/v1/EndTaskRequest.js'
import type { EndTaskResponse } from '../../../proto/generated/sigil/agent/v1/EndTaskResponse.js'
import type { FetchTaskJwtSvidRequest__Output } from '../../../proto/generated/sigil/agent/v1/FetchTaskJwtSvidRequest.js'
import type { FetchTaskJwtSvidResponse } from '../../../proto/generated/sigil/agent/v1/FetchTaskJwtSvidResponse.js'
import { enforceSigning } from '../../policy/signing-policy.js'
import { DEFAULT_MAX_TASK_TTL_SECONDS, type TaskService } from '../../task/task-service.js'
import type { AgentApiContext } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'
import { unixSeconds } from './agent-wire.js'
import { authorizedEntries, requireAuthorizedEntry } from './authorized-entries.js'

const MAX_TOKEN_CHARS = 64 * 1024
const PROCESS_KEY = /^[1-9][0-9]{0,9}:[0-9]{1,20}$/

function tasksOf(deps: AgentApiContext): TaskService {
  if (deps.tasks === undefined)
    throw new SigilError('ERR_UNAVAILABLE', 'tasks are not enabled on this server')
  return deps.tasks
}

function processKey(value: string, required: boolean): string {
  if (value === '' && !required) return ''
  if (!PROCESS_KEY.test(value))
    throw new SigilError('ERR_INVALID_ARGUMENT', 'process_key must be "pid:start_time"')
  return value
}

/** The agent's reason for ending a task (drift): printable text. */
function checkReason(reason: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(reason))
    throw new SigilError('ERR_INVALID_ARGUMENT', 'reason contains control characters')
  return reason
}

/** BeginTask for the calling agent. */
export async function beginTask(
  deps: AgentApiContext,
  caller: AuthenticatedAgent,
  req: BeginTaskRequest__Output,
): Promise<BeginTaskResponse> {
  const tasks = tasksOf(deps)
  if (!req.entry_id) throw new SigilError('ERR_INVALID_ARGUMENT', 'entry_id is empty')
  if (req.on_behalf_of.length > MAX_TOKEN_CHARS || req.parent_txn_token.length > MAX_TOKEN_CHARS) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `tokens are at most ${MAX_TOKEN_CHARS} characters`)
  }
  const entry = requireAuthorizedEntry(
    deps,
    await authorizedEntries(deps, caller),
    caller,
    req.entry_id,
    'BeginTask',
  )
  const now = deps.clock()
  await enforceSigning(deps.policies?.point, {
    action: 'BeginTask',
    entry,
    agent: caller.agent,
    resource: entry.spiffeId,
    audiences: req.scope,
    pendingTask: {
      id: '',
      purpose: req.purpose,
      scope: req.scope,
      // the TTL the task service will apply (0: the entry's max, else the server default)
      deadline: new Date(
        now.getTime() + (Number(req.ttl_seconds) || entry.maxTaskTtl || DEFAULT_MAX_TASK_TTL_SECONDS) * 1000,
      ),
      actChain: [],
      onBehalfOf: '',
    },
    now,
  })
  const { task, txnToken } = await tasks.begin(
    { agentId: caller.agentId.toString(), processKey: processKey(req.process_key, true) },
    {
      entry,
      purpose: req.purpose,
      scope: req.scope,
      ttlSeconds: Number(req.ttl_seconds),
      onBehalfOf: req.on_behalf_of,
      parentTxnToken: req.parent_txn_token,
    },
  )
  return {
    task_id: task.id,
    txn_token: txnToken.token,
    expires_at: unixSeconds(task.deadline),
    spiffe_id: task.spiffeId,
  }
}

/** FetchTaskJwtSvid for the calling agent. */
export async function fetchTaskJwtSvid(
  deps: AgentApiContext,
  caller: AuthenticatedAgent,
  req: FetchTaskJwtSvidRequest__Output,
): Promise<FetchTaskJwtSvidResponse> {
  const tasks = tasksOf(deps)
  if (!req.audience || req.audience.length > 2048) {
    throw new SigilError('ERR_INVALID_ARGUMENT', 'audience must be 1-2048 characters')
  }
  const who = { agentId: caller.agentId.toString(), processKey: processKey(req.process_key, true) }
  const jwt = await tasks.fetchJwtSvid(
    who,
    req.task_id,
    req.audience,
    req.entry_ids,
    async (entryId) =>
      requireAuthorizedEntry(
        deps,
        await authorizedEntries(deps, caller),
        caller,
        entryId,
        'FetchTaskJwtSvid',
      ),
    async (task, entry) => {
      await enforceSigning(deps.policies?.point, {
        action: 'FetchTaskJWTSVID',
        entry,
        agent: caller.agent,
        resource: req.audience,
        task,
        now: deps.clock(),
      })
    },
  )
  return {
    token: jwt.token,
    spiffe_id: jwt.spiffeId.toString(),
    expires_at: unixSeconds(jwt.expiresAt),
    issued_at: unixSeconds(jwt.issuedAt),
  }
}

/** EndTask for the calling agent. */
export async function endTask(
  deps: AgentApiContext,
  caller: AuthenticatedAgent,
  req: EndTaskRequest__Output,
): Promise<EndTaskResponse> {
  const tasks = tasksOf(deps)
  const who = { agentId: caller.agentId.toString(), processKey: processKey(req.process_key, false) }
  const ended = await tasks.end(who, req.task_id, req.outcome, checkReason(req.reason ?? ''))
  return { outcome: ended.outcome }
}
