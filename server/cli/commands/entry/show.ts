/**
 * `sigil-server entry show [--entry-id|--spiffe-id|--parent-id|--selector…|--federates-with…|--hint]`:
 * lists entries (filters AND; exit 0 with "Found 0 entries" when filters match nothing, as SPIRE
 * does). An `--entry-id` that names no entry is an error like `entry update`/`delete`: exit 2.
 * `--match-selectors-on` is SPIRE's: `superset` (the default; the admin API's own filter) keeps
 * entries having every given selector, `exact` the same set, `any` at least one, `subset` only
 * given ones. The modes other than superset, `--federates-with` (entries federating with every
 * given domain) and `--hint` are applied here to the admin API's answer for the other filters.
 */
import { SigilError } from '../../../../certs/errors.js'
import { echo } from '../../../../certs/lib/echo.js'
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import type { RegistrationEntry } from '../../../../proto/generated/sigil/common/v1/RegistrationEntry.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { selectorFlags, spiffeIdFlag, trustDomainIdFlags } from '../../flag-values.js'
import { formatEntry, formatList } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server entry show',
  description: 'Shows the entries matching every filter given; all entries without one.',
  options: (j) =>
    j
      .opt({
        'entry-id': { hint: 'id', description: 'Only this entry (exit 2 if it does not exist)' },
        'spiffe-id': { hint: 'id', description: 'Only entries issuing this SPIFFE ID' },
        'parent-id': { hint: 'id', description: 'Only entries with this parent' },
      })
      .optList({
        selector: {
          hint: 'type:key:value',
          description: 'Only entries whose selectors match these, by --match-selectors-on (repeatable)',
        },
        'federates-with': {
          hint: 'td',
          description:
            'Only entries federating with this trust domain (repeatable; all must be among theirs)',
        },
      })
      .opt({
        'match-selectors-on': {
          hint: 'mode',
          validOptions: MATCH_MODES,
          description:
            'How --selector matches: superset (default: the entry has every one), exact, any (at least one), subset (the entry has only given ones)',
        },
        hint: { hint: 'text', description: 'Only entries with this hint' },
        owner: { hint: 'text', description: 'Only entries with this owner' },
        purpose: { hint: 'text', description: 'Only entries with this purpose' },
        risk: {
          hint: 'level',
          validOptions: ['low', 'medium', 'high'],
          description: 'Only entries with this risk rating',
        },
      }),
  run: async (v, ctx) => {
    const selectors = selectorFlags(v.selector ?? [])
    const mode = (v['match-selectors-on'] ?? 'superset') as MatchMode
    if (v['match-selectors-on'] !== undefined && selectors.length === 0) {
      throw new UsageError('--match-selectors-on needs --selector')
    }
    const federatesWith = trustDomainIdFlags(v['federates-with'] ?? [])
    const request = {
      entry_id: v['entry-id'] ?? '',
      spiffe_id: v['spiffe-id'] === undefined ? '' : spiffeIdFlag(v['spiffe-id'], '--spiffe-id'),
      parent_id: v['parent-id'] === undefined ? '' : spiffeIdFlag(v['parent-id'], '--parent-id'),
      selectors: mode === 'superset' ? selectors : [],
    }
    const listed = await ctx.admin().call('ListEntries', request)
    if (request.entry_id && listed.entries.length === 0) {
      const filtered = request.spiffe_id || request.parent_id || request.selectors.length > 0
      if (!filtered) throw new SigilError('ERR_NOT_FOUND', `entry ${echo(request.entry_id)} not found`)
    }
    const wanted = selectors.map((s) => `${s.type}:${s.value}`)
    const res = {
      ...listed,
      entries: listed.entries.filter(
        (e) =>
          (mode === 'superset' || selectorsMatch(mode, e, wanted)) &&
          federatesWith.every((td) => (e.federates_with ?? []).map(tdName).includes(tdName(td))) &&
          (v.hint === undefined || e.hint === v.hint) &&
          (v.owner === undefined || e.owner === v.owner) &&
          (v.purpose === undefined || e.purpose === v.purpose) &&
          (v.risk === undefined || e.risk === v.risk),
      ),
    }
    printResult(ctx.io, ctx.format, res, () => formatList(res.entries, formatEntry, 'entry', 'entries'))
    return EXIT_OK
  },
})

/** SPIRE's selector match modes. */
const MATCH_MODES = ['exact', 'any', 'superset', 'subset'] as const
type MatchMode = (typeof MATCH_MODES)[number]

function tdName(td: string): string {
  return td.replace(/^spiffe:\/\//, '')
}

/** Whether an entry's selectors match `wanted` (`type:value`) in `mode`. */
function selectorsMatch(mode: MatchMode, entry: RegistrationEntry, wanted: readonly string[]): boolean {
  const have = new Set((entry.selectors ?? []).map((s) => `${s.type}:${s.value}`))
  const given = new Set(wanted)
  switch (mode) {
    case 'exact':
      return have.size === given.size && [...given].every((s) => have.has(s))
    case 'any':
      return [...given].some((s) => have.has(s))
    case 'subset':
      return [...have].every((s) => given.has(s))
    case 'superset':
      return [...given].every((s) => have.has(s))
  }
}
