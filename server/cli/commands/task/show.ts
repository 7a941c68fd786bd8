/** `sigil-server task show --task-id ID`: one task, the credentials issued for it, its decisions. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatTaskDetail } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server task show',
  description: 'Shows one task: state, outcome, subject and actor chain, credentials issued, decisions.',
  options: (j) => j.opt({ 'task-id': { hint: 'id', description: 'The task ID (required)' } }),
  required: ['task-id'],
  run: async (v, ctx) => {
    const res = await ctx.admin().call('GetTask', { task_id: v['task-id'] ?? '' })
    const task = res.task
    printResult(ctx.io, ctx.format, res, () =>
      task ? formatTaskDetail(task, res.credentials, res.events) : '',
    )
    return EXIT_OK
  },
})
