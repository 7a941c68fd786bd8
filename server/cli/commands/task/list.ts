/** `sigil-server task list [--state active|ended] [--spiffe-id ID]`: see ../task.ts. */
import { SigilError } from '../../../../certs/errors.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { spiffeIdFlag } from '../../flag-values.js'
import { formatList, formatTask } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server task list',
  description: 'Lists tasks (filters AND), newest first, at most 10000.',
  options: (j) =>
    j.opt({
      state: { hint: 'state', description: 'Only tasks in this state: active or ended' },
      'spiffe-id': { hint: 'id', description: 'Only tasks begun by this SPIFFE ID' },
    }),
  run: async (v, ctx) => {
    const state = v.state ?? ''
    if (state !== '' && state !== 'active' && state !== 'ended') {
      throw new SigilError('ERR_INVALID_ARGUMENT', '--state: active or ended')
    }
    const request = {
      state,
      spiffe_id: v['spiffe-id'] === undefined ? '' : spiffeIdFlag(v['spiffe-id'], '--spiffe-id'),
    }
    const res = await ctx.admin().call('ListTasks', request)
    printResult(ctx.io, ctx.format, res, () => formatList(res.tasks, formatTask, 'task', 'tasks'))
    return EXIT_OK
  },
})
