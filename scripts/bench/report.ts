/**
 * `bench-results/README.md`, the committed table of the latest runs: one `## NAME` section per
 * benchmark with a `| key | value |` table. Parsed so a run of some benchmarks (or of one part
 * of one) rewrites only their sections and keeps the others.
 */

/** One benchmark's rows: key → value as printed. */
export type ReportSection = Map<string, string>

const HEADER = [
  '# Benchmark results',
  '',
  'Written by `npm run bench`; rerun it to refresh. Machine and Node version per run.',
  '',
]

/**
 * The sections of a report written by {@link renderReport}.
 *
 * @example
 * parseReport('## certs\n\n| key | value |\n|---|---|\n| x509_mint_per_s | 22546 |\n').get('certs')?.get('x509_mint_per_s') // '22546'
 */
export function parseReport(text: string): Map<string, ReportSection> {
  const sections = new Map<string, ReportSection>()
  let current: ReportSection | undefined
  for (const line of text.split('\n')) {
    const heading = /^## (.+)$/.exec(line)
    if (heading) {
      current = new Map()
      sections.set((heading[1] as string).trim(), current)
      continue
    }
    const row = /^\| (.*?) \| (.*) \|$/.exec(line)
    if (current === undefined || !row || row[1] === 'key') continue
    current.set(row[1] as string, row[2] as string)
  }
  return sections
}

/**
 * The report text for `sections`, in name order.
 *
 * @example
 * renderReport(new Map([['certs', new Map([['x509_mint_per_s', '22546']])]]))
 */
export function renderReport(sections: ReadonlyMap<string, ReadonlyMap<string, string>>): string {
  const lines = [...HEADER]
  for (const name of [...sections.keys()].sort()) {
    lines.push(`## ${name}`, '', '| key | value |', '|---|---|')
    for (const [k, v] of sections.get(name) ?? []) lines.push(`| ${k} | ${v} |`)
    lines.push('')
  }
  return `${lines.join('\n')}\n`
}
