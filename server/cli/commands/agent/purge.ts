/**
 * `sigil-server agent purge [--expired-for D] [--dry-run]`: evicts every agent whose agent SVID
 * expired more than D ago (SPIRE's `agent purge`, default 30 days); `--dry-run` lists them and
 * changes nothing. Banned agents are kept: evicting lifts a ban, so purging one would let a
 * banned node attest again — they are listed as kept. Each eviction is its own call; one that
 * fails is reported and the others go on (exit as the worst failure).
 */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { AdminCallError, exitCodeForStatus } from '../../admin-call-error.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { ttlFlag } from '../../flag-values.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server agent purge',
  description:
    'Evicts the agents whose agent SVID expired more than --expired-for ago (banned agents are kept: evicting would lift the ban). --dry-run only lists them.',
  options: (j) =>
    j
      .opt({
        'expired-for': {
          hint: 'duration',
          default: '30d',
          description: 'How long ago the agent SVID must have expired, e.g. 720h or 30d (default 30d)',
        },
      })
      .flag({ 'dry-run': { description: 'List the agents that would be purged; change nothing' } }),
  run: async (v, ctx) => {
    const expiredFor = ttlFlag(v['expired-for'] ?? '30d', '--expired-for', { allowZero: true })
    const cutoff = Math.floor(Date.now() / 1000) - expiredFor
    const { agents } = await ctx.admin().call('ListAgents', {})
    const expired = agents.filter((a) => Number(a.expires_at) < cutoff)
    const keptBanned = expired.filter((a) => a.banned).map((a) => a.spiffe_id)
    const targets = expired.filter((a) => !a.banned).map((a) => a.spiffe_id)
    const purged: string[] = []
    const failed: { spiffe_id: string; code: number; message: string }[] = []
    let exit = EXIT_OK
    if (!v['dry-run']) {
      for (const id of targets) {
        try {
          await ctx.admin().call('EvictAgent', { spiffe_id: id })
          purged.push(id)
        } catch (e) {
          if (!(e instanceof AdminCallError)) throw e
          failed.push({ spiffe_id: id, code: e.status, message: e.message })
          exit = Math.max(exit, exitCodeForStatus(e.status))
        }
      }
    }
    const dry = v['dry-run'] === true
    const json = dry
      ? { dry_run: true, expired: targets, kept_banned: keptBanned }
      : { dry_run: false, purged, failed, kept_banned: keptBanned }
    printResult(ctx.io, ctx.format, json, () => {
      const lines: string[] = []
      if (dry) {
        lines.push(`${targets.length} expired agent${targets.length === 1 ? '' : 's'} would be purged`)
        for (const id of targets) lines.push(`  ${id}`)
      } else {
        lines.push(`${purged.length} expired agent${purged.length === 1 ? '' : 's'} purged`)
        for (const id of purged) lines.push(`  ${id}`)
        for (const f of failed)
          lines.push(`Failed to purge ${f.spiffe_id} (code = ${f.code}, message = ${f.message})`)
      }
      for (const id of keptBanned) lines.push(`Kept (banned): ${id}`)
      return lines.join('\n')
    })
    return exit
  },
})
