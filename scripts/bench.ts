/**
 * `npm run bench [-- NAME... [--only PART]]`: runs benchmarks (all by default), prints a table
 * per benchmark, writes `bench-results/NAME.json` and refreshes the sections of the benchmarks
 * it ran in `bench-results/README.md` (the others stay as they were). `--only PART` runs one
 * part of a benchmark that has parts (`workload-api --only noisy`); its keys replace the same
 * keys of that benchmark's section and JSON, the rest stay.
 * Every benchmark measures its physical baseline (e.g. `openssl speed`) in the same run.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import type { Benchmark, BenchResult } from './bench/benchmark.js'
import { parseReport, type ReportSection, renderReport } from './bench/report.js'

/** A benchmark module: its run and, if it has any, the parts `--only` may pick. */
type BenchModule = { benchmark: Benchmark; parts?: readonly string[] }

const BENCHMARKS: Record<string, () => Promise<BenchModule>> = {
  certs: () => import('./bench/certs.js'),
  issuance: () => import('./bench/issuance.js'),
  'workload-api': () => import('./bench/workload-api.js'),
  'cold-start': () => import('./bench/cold-start.js'),
  scale: () => import('./bench/scale.js'),
  revocation: () => import('./bench/revocation.js'),
  policy: () => import('./bench/policy.js'),
  audit: () => import('./bench/audit.js'),
  authorize: () => import('./bench/authorize.js'),
  'scale-out': () => import('./bench/scale-out.js'),
}

const RESULTS_DIR = resolve('bench-results')

function machine(): Record<string, string | number> {
  return { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version }
}

function printTable(name: string, result: BenchResult): void {
  const rows = result.rows
  const widths = [Math.max(...rows.map((r) => r[0].length), 6), Math.max(...rows.map((r) => r[1].length), 5)]
  process.stdout.write(`\n${name}  (${result.note ?? ''})\n`)
  for (const [k, v] of rows)
    process.stdout.write(`  ${k.padEnd(widths[0] ?? 0)}  ${v.padStart(widths[1] ?? 0)}\n`)
}

/** Reads `bench-results/NAME.json` if a run left one. */
function readJson(name: string): Record<string, unknown> | undefined {
  const file = join(RESULTS_DIR, `${name}.json`)
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined
}

/** Replaces (or, for a partial run, updates) the sections of the benchmarks that ran. */
function updateReport(ran: ReadonlyMap<string, { json: Record<string, unknown>; partial: boolean }>): void {
  const file = join(RESULTS_DIR, 'README.md')
  const sections = existsSync(file)
    ? parseReport(readFileSync(file, 'utf8'))
    : new Map<string, ReportSection>()
  for (const [name, { json, partial }] of ran) {
    const rows = new Map(
      Object.entries(json).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
    )
    const old = sections.get(name)
    sections.set(name, partial && old !== undefined ? new Map([...old, ...rows]) : rows)
  }
  writeFileSync(file, renderReport(sections))
}

/** `NAME... [--only PART]` → names and the part. */
function parseArgs(argv: readonly string[]): { names: string[]; only?: string } | string {
  const names: string[] = []
  let only: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--only') {
      only = argv[++i]
      if (only === undefined || only.startsWith('-')) return '--only needs a part name'
    } else if (a.startsWith('-')) return `unknown option ${a}`
    else names.push(a)
  }
  if (only !== undefined && names.filter((n) => n !== 'report').length !== 1)
    return '--only goes with exactly one benchmark name'
  return only === undefined ? { names } : { names, only }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n`)
    process.exitCode = 2
    return
  }
  const { names, only } = args
  const unknown = names.filter((n) => n !== 'report' && !(n in BENCHMARKS))
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}, report\n`,
    )
    process.exitCode = 2
    return
  }
  mkdirSync(RESULTS_DIR, { recursive: true })
  const selected = names.length === 0 ? Object.keys(BENCHMARKS) : names.filter((n) => n !== 'report')
  const ran = new Map<string, { json: Record<string, unknown>; partial: boolean }>()
  // `report`: the table again from every bench-results/NAME.json a run left
  if (names.includes('report')) {
    for (const file of readdirSync(RESULTS_DIR).filter((f) => f.endsWith('.json'))) {
      const name = file.replace(/\.json$/, '')
      ran.set(name, { json: readJson(name) ?? {}, partial: false })
    }
  }
  for (const name of selected) {
    const { benchmark, parts = [] } = await (BENCHMARKS[name] as () => Promise<BenchModule>)()
    if (only !== undefined && !parts.includes(only)) {
      process.stderr.write(`${name} has no part ${only}; its parts: ${parts.join(', ') || 'none'}\n`)
      process.exitCode = 2
      return
    }
    const result = await benchmark(only === undefined ? {} : { only })
    // a part's keys carry their own time and load; the benchmark's own stay as they were
    const measured =
      only === undefined
        ? { ...result.json, machine: machine(), measured_at: new Date().toISOString() }
        : result.json
    const json = only === undefined ? measured : { ...readJson(name), ...measured }
    writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`)
    ran.set(name, { json: measured, partial: only !== undefined })
    printTable(name, result)
  }
  updateReport(ran)
  process.stdout.write(`\nresults in ${RESULTS_DIR}/ (README.md has the latest table)\n`)
}

await main()
