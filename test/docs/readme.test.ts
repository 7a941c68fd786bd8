// README.md's configuration tables are generated from the option tables; keep them equal.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { configurationTables } from '../../scripts/docs/options-table.js'
import { ROOT } from '../helpers/server-process.js'

t.test('README configuration tables match the option tables', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const { server, agent } = configurationTables()
  t.ok(readme.includes(server), 'server table is current (node dist/scripts/docs/options-table.js)')
  t.ok(readme.includes(agent), 'agent table is current (node dist/scripts/docs/options-table.js)')
  t.ok(server.includes('`--trust-domain <name>`'))
})

t.test(
  'README quick start: prerequisites are the install script list; no command goes through npx',
  async (t) => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const script = join(ROOT, 'scripts/install-test-prerequisites.sh')
    t.match(readme, 'sudo bash scripts/install-test-prerequisites.sh', 'the README names the script')
    const listed = execFileSync('bash', [script, '--list'], { encoding: 'utf8' }).trim().split(/\s+/)
    const shown = /^apt-get install (.+)$/m.exec(readme)?.[1]?.trim().split(/\s+/)
    t.same(shown, listed, 'README lists every package the script installs')
    t.ok(
      listed.includes('protoc-gen-go-grpc') && listed.includes('openssl'),
      'Go interop and openssl included',
    )
    // npx re-links the package on a first call from a clone (about a minute); bin/ answers at once.
    t.notMatch(readme, /^\s*npx /m, 'no command line starts with npx: they use scripts/bin/sigil-*')
  },
)
