/**
 * `node dist/scripts/bench/profile-summary.js FILE.cpuprofile [TOP]`: where a `node --cpu-prof`
 * profile spent its time: self time per function and per file/package, and inclusive time of
 * our own functions. For the benchmarks' "what dominates" notes (run a benchmark with
 * SIGIL_BENCH_CPU_PROF=<dir> to profile the server and agent it starts).
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { functionName: string; url: string; lineNumber: number }
  readonly children?: readonly number[]
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** A short name for a script URL: the package, or the path below dist/. */
function area(url: string): string {
  if (url === '') return '(native/vm)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1] as string
  const ours = /dist\/(.+)$/.exec(url)
  if (ours) return (ours[1] as string).replace(/\.js$/, '')
  if (url.startsWith('node:')) return url
  return url
}

function top(map: Map<string, number>, n: number, total: number): string[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
}

/** Prints the summary of one profile. */
export function summarize(path: string, n = 25): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id)
  const selfTime = new Map<number, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    selfTime.set(id, (selfTime.get(id) ?? 0) + dt)
    total += dt
  })
  const byFunction = new Map<string, number>()
  const byArea = new Map<string, number>()
  const inclusiveOurs = new Map<string, number>()
  for (const [id, t] of selfTime) {
    const node = byId.get(id) as ProfileNode
    const { functionName, url, lineNumber } = node.callFrame
    const name = `${functionName || '(anonymous)'} ${area(url)}:${lineNumber + 1}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + t)
    byArea.set(area(url), (byArea.get(area(url)) ?? 0) + t)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = (byId.get(cur) as ProfileNode).callFrame
      if (!/\/dist\/(server|agent|certs|proto)\//.test(f.url)) continue
      const key = `${f.functionName || '(anonymous)'} ${area(f.url)}`
      if (seen.has(key)) continue
      seen.add(key)
      inclusiveOurs.set(key, (inclusiveOurs.get(key) ?? 0) + t)
    }
  }
  return [
    `${path}: ${(total / 1e6).toFixed(2)} s sampled`,
    'self time by file/package:',
    ...top(byArea, 12, total),
    'self time by function:',
    ...top(byFunction, n, total),
    'inclusive time, our functions:',
    ...top(inclusiveOurs, n, total),
  ].join('\n')
}

if (process.argv[1]?.endsWith('profile-summary.js')) {
  const [file, n] = process.argv.slice(2)
  if (!file) {
    process.stderr.write('usage: profile-summary FILE.cpuprofile [TOP]\n')
    process.exitCode = 2
  } else process.stdout.write(`${summarize(file, Number(n ?? 25))}\n`)
}
