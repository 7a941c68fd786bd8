// What each CLI command loads before it runs (issue 12 item 7: every command the README and
// `npm start` print answers at once). The dispatchers import each command module lazily; this
// test follows the static imports (the ones loaded at once; `import()` and type-only imports
// are not followed) from each entry and command module and checks that `--help`/`--version`
// load no npm package, that a client verb never loads a daemon (its composition root, the
// datastore, the logger, the X.509 library) and loads gRPC only when it connects (so its
// `--help` and usage errors answer without it), and that `run --help` loads neither the
// daemon nor pino. No timings: the module graph is what makes a command slow or fast.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import t from 'tap'
import { ROOT } from '../helpers/server-process.js'

const root = ROOT

// A static import or re-export; group 1 is `type ` when the whole statement is type-only.
const STATIC =
  /^\s*(?:import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm

/** The static import closure of a source file: our files (relative to root) and npm packages. */
function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>()
  const packages = new Set<string>()
  const pending = [resolve(root, entry)]
  while (pending.length > 0) {
    const file = pending.pop() as string
    const rel = relative(root, file)
    if (files.has(rel)) continue
    files.add(rel)
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC)) {
      const typeOnly = m[1] !== undefined || /^\{(\s*type\s+[^,}]+,?)+\s*\}$/.test((m[2] ?? '').trim())
      const spec = m[3] ?? m[4] ?? ''
      if (typeOnly || spec.startsWith('node:')) continue
      if (!spec.startsWith('.')) {
        packages.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec),
        )
        continue
      }
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts')
      if (existsSync(target)) pending.push(target)
    }
  }
  return { files, packages }
}

const commandModules = (dir: string) =>
  readdirSync(join(root, dir), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f))

const DAEMON_PACKAGES = ['better-sqlite3', 'pino', '@peculiar/x509', 'reflect-metadata']
const DAEMON_ROOTS = ['server/server.ts', 'agent/agent.ts']
const GRPC_PACKAGES = ['@grpc/grpc-js', '@grpc/proto-loader']

t.test('--help and --version load no npm package', async (t) => {
  for (const entry of ['server/cli/main.ts', 'agent/cli/main.ts']) {
    const { files, packages } = closure(entry)
    t.same([...packages], [], `${entry} loads only node: modules and our dispatcher`)
    t.ok(files.size < 15, `${entry} loads ${files.size} of our files`)
  }
})

t.test('client verbs load no daemon', async (t) => {
  const modules = [...commandModules('server/cli/commands'), ...commandModules('agent/cli/commands')].filter(
    (f) => !f.endsWith('/run.ts'),
  )
  t.ok(modules.length >= 20, `${modules.length} command modules`)
  for (const m of modules) {
    const { files, packages } = closure(m)
    for (const p of DAEMON_PACKAGES) t.notOk(packages.has(p), `${m} does not load ${p}`)
    for (const r of DAEMON_ROOTS) t.notOk(files.has(r), `${m} does not load ${r}`)
    for (const p of GRPC_PACKAGES) t.notOk(packages.has(p), `${m} loads ${p} only when it connects`)
  }
})

t.test('run loads the daemon only once the configuration is valid', async (t) => {
  for (const m of ['server/cli/commands/run.ts', 'agent/cli/commands/run.ts']) {
    const { files, packages } = closure(m)
    for (const p of DAEMON_PACKAGES) t.notOk(packages.has(p), `${m} (for --help) does not load ${p}`)
    for (const r of DAEMON_ROOTS) t.notOk(files.has(r), `${m} (for --help) does not load ${r}`)
    t.match(readFileSync(join(root, m), 'utf8'), /await import\('\.\.\/\.\.\/(server|agent)\.js'\)/)
  }
})

t.test('the closure follows static imports and skips lazy and type-only ones', async (t) => {
  const { files, packages } = closure('server/cli/commands/run.ts')
  t.ok(files.has('common/lifecycle/run-daemon.ts'), 'static import followed')
  t.ok(files.has('server/config/load-server-config.ts'), 'static import followed')
  t.notOk(files.has('common/logging/logger.ts'), 'type-only import not followed')
  t.ok(closure('common/logging/logger.ts').packages.has('pino'), 'npm packages found')
  t.notOk(packages.has('pino'))
})
