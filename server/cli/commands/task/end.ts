/** `sigil-server task end --task-id ID [--reason R]`: an operator ends a task (outcome cancelled). */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatTask } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server task end',
  description: 'Ends a task now (outcome cancelled): every credential issued for it dies with it.',
  options: (j) =>
    j.opt({
      'task-id': { hint: 'id', description: 'The task ID (required)' },
      reason: { hint: 'text', description: 'Why, recorded with the task' },
    }),
  required: ['task-id'],
  run: async (v, ctx) => {
    const res = await ctx.admin().call('EndTask', { task_id: v['task-id'] ?? '', reason: v.reason ?? '' })
    const task = res.task
    printResult(ctx.io, ctx.format, res, () => (task ? `Ended\n${formatTask(task)}` : 'Ended'))
    return EXIT_OK
  },
})
