// README.md's configuration tables are generated from the option tables; keep them equal.
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
