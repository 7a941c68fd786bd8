// Imports run one way (STYLE.md habit 1): certs/ imports nothing of ours, proto/ only
// itself, sdk/ (the workload SDK, a gRPC client) only certs/ and proto/, server/ and agent/
// never each other nor the SDK; only certs/ touches @peculiar/x509.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const AREAS = ['certs', 'proto', 'sdk', 'server', 'agent'] as const
type Area = (typeof AREAS)[number]
const allowed: Record<Area, Area[]> = {
  certs: ['certs'],
  proto: ['proto'],
  sdk: ['sdk', 'certs', 'proto'],
  server: ['server', 'certs', 'proto'],
  agent: ['agent', 'certs', 'proto'],
}

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) {
      if (name !== 'generated' && name !== 'node_modules') yield* tsFiles(p)
    } else if (p.endsWith('.ts')) yield p
  }
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

t.test('imports between source areas run one way', async (t) => {
  let checked = 0
  for (const area of AREAS) {
    let files: string[] = []
    try {
      files = [...tsFiles(join(root, area))]
    } catch {
      continue
    }
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2] ?? ''
        checked++
        if (spec === '@peculiar/x509' || spec.startsWith('@peculiar/')) {
          t.equal(area, 'certs', `${relative(root, file)} imports ${spec}: only certs/ may`)
        }
        if (!spec.startsWith('.')) continue
        const target = relative(root, resolve(dirname(file), spec)).split('/')[0] as Area
        if (!AREAS.includes(target)) continue
        t.ok(allowed[area].includes(target), `${relative(root, file)} imports ${spec} (${area} -> ${target})`)
      }
    }
  }
  t.ok(checked > 0, 'found imports to check')
})
