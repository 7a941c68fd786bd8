/**
 * `sigil-server policy test --principal ID --action A --resource R [--context JSON] [--file P.cedar]`:
 * evaluates one request and prints the decision and the deciding policy ids; with `--file`, against
 * that policy instead of the one in force (try before `policy set`). The principal is a SPIFFE ID:
 * the Workload its registration entry describes (`--entry-id` picks one of several), else the
 * attested agent with that ID. Exit 0 whatever the decision; `--output json` for scripts.
 */
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { readInput } from '../../../../common/cli/read-input.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { MAX_POLICY_FILE_BYTES } from './set.js'

const ACTIONS = ['FetchX509SVID', 'FetchJWTSVID', 'BeginTask', 'FetchTaskJWTSVID', 'CallTool'] as const

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server policy test',
  description:
    'Evaluates one request against the policy in force (or --file): prints allow, deny or hold and the policy ids that decided.',
  options: (j) =>
    j.opt({
      principal: {
        hint: 'spiffe-id',
        description: 'The caller: a workload SPIFFE ID (from its entry) or an agent SPIFFE ID (required)',
      },
      action: { hint: 'action', validOptions: ACTIONS, description: 'The action (required)' },
      resource: {
        hint: 'value',
        description:
          'A SPIFFE ID (FetchX509SVID, BeginTask), an audience (FetchJWTSVID, FetchTaskJWTSVID) or a tool (CallTool) (required)',
      },
      context: {
        hint: 'json',
        description:
          'A JSON object: request details (method, path, host, operation, amount, labels), "time" (unix seconds), "task" ({id, purpose, scope, deadline, actChain, onBehalfOf})',
      },
      'entry-id': {
        hint: 'id',
        description: 'Which entry describes the principal when several issue its SPIFFE ID',
      },
      file: { hint: 'path', description: 'Evaluate against this Cedar file instead of the policy in force' },
    }),
  required: ['principal', 'action', 'resource'],
  run: async (v, ctx) => {
    const context = v.context ?? ''
    if (context !== '') {
      let parsed: unknown
      try {
        parsed = JSON.parse(context)
      } catch (e) {
        throw new UsageError(`--context: not JSON: ${(e as Error).message}`)
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new UsageError('--context must be a JSON object, e.g. {"time": 1767225600}')
    }
    const text =
      v.file === undefined
        ? ''
        : await readInput(v.file, ctx.io.stdin ?? process.stdin, MAX_POLICY_FILE_BYTES, 'policy file')
    const res = await ctx.admin().call('TestPolicy', {
      principal: v.principal ?? '',
      action: v.action ?? '',
      resource: v.resource ?? '',
      context_json: context,
      text,
      entry_id: v['entry-id'] ?? '',
    })
    printResult(ctx.io, ctx.format, res, () =>
      [
        `Decision         : ${res.decision}`,
        ...res.policy_ids.map((id) => `Policy           : ${id}`),
        `Reason           : ${res.reason}`,
        `Version          : ${res.version === 0 ? (text ? 'the --file policy' : 'none') : String(res.version)}`,
        ...res.errors.map((e) => `Error            : ${e}`),
      ].join('\n'),
    )
    return EXIT_OK
  },
})
