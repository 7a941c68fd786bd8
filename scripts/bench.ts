/**
 * `npm run bench [-- NAME...]`: runs benchmarks (all by default), prints a table per
 * benchmark, writes `bench-results/NAME.json` and refreshes `bench-results/README.md`.
 * Every benchmark measures its physical baseline (e.g. `openssl speed`) in the same run.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import type { Benchmark, BenchResult } from './bench/benchmark.js'

const BENCHMARKS: Record<string, () => Promise<{ benchmark: Benchmark }>> = {
  certs: () => import('./bench/certs.js'),
  issuance: () => import('./bench/issuance.js'),
  'workload-api': () => import('./bench/workload-api.js'),
  'cold-start': () => import('./bench/cold-start.js'),
  scale: () => import('./bench/scale.js'),
  revocation: () => import('./bench/revocation.js'),
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

function writeReport(): void {
  const lines = [
    '# Benchmark results',
    '',
    'Written by `npm run bench`; rerun it to refresh. Machine and Node version per run.',
    '',
  ]
  for (const file of readdirSync(RESULTS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const data = JSON.parse(readFileSync(join(RESULTS_DIR, file), 'utf8')) as Record<string, unknown>
    lines.push(`## ${file.replace(/\.json$/, '')}`, '', '| key | value |', '|---|---|')
    for (const [k, v] of Object.entries(data))
      lines.push(`| ${k} | ${typeof v === 'object' ? JSON.stringify(v) : String(v)} |`)
    lines.push('')
  }
  writeFileSync(join(RESULTS_DIR, 'README.md'), `${lines.join('\n')}\n`)
}

async function main(): Promise<void> {
  const names = process.argv.slice(2)
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
  for (const name of selected) {
    const { benchmark } = await (BENCHMARKS[name] as () => Promise<{ benchmark: Benchmark }>)()
    const result = await benchmark()
    const json = { ...result.json, machine: machine(), measured_at: new Date().toISOString() }
    writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`)
    printTable(name, result)
  }
  writeReport()
  process.stdout.write(`\nresults in ${RESULTS_DIR}/ (README.md has the latest table)\n`)
}

await main()
