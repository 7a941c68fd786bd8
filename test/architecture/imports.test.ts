// Imports run one way (STYLE.md habit 1): certs/ imports nothing of ours, proto/ only
// itself, common/ (the shared runtime: CLI, logging, config file, lifecycle, loops) only
// certs/, sdk/ (the workload SDK, a gRPC client) only certs/ and proto/, server/ and agent/
// use common/ but never each other nor the SDK; only certs/ touches @peculiar/x509.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import t from 'tap'
import { ROOT } from '../helpers/server-process.js'

const root = ROOT
const AREAS = ['certs', 'proto', 'common', 'sdk', 'server', 'agent'] as const
type Area = (typeof AREAS)[number]
const allowed: Record<Area, Area[]> = {
  certs: ['certs'],
  proto: ['proto'],
  common: ['common', 'certs'],
  sdk: ['sdk', 'certs', 'proto'],
  server: ['server', 'certs', 'proto', 'common'],
  agent: ['agent', 'certs', 'proto', 'common'],
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

t.test('the top-level folders are the known ones', async (t) => {
  const expected = ['agent', 'certs', 'common', 'proto', 'scripts', 'sdk', 'server', 'test']
  const ignored = new Set(['node_modules', 'dist', 'build', 'bench-results'])
  const found = readdirSync(root)
    .filter((name) => statSync(join(root, name)).isDirectory())
    .filter((name) => !name.startsWith('.') && !ignored.has(name))
    .sort()
  t.same(found, expected, 'a new top-level folder needs a row in this test and in the README folder table')
})

t.test('every area has a row and imports of each area were checked', async (t) => {
  for (const area of AREAS) t.ok(allowed[area].includes(area), `${area} may import itself`)
  t.same(allowed.common, ['common', 'certs'], 'common/ imports only certs/')
  t.notOk(allowed.sdk.includes('common'), 'sdk/ may not import common/')
})
