// The README's "adversarial suite" list stays true: every test/security/*.test.ts file has its
// one line there, and every file the list names exists.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from '../helpers/server-process.js'

const root = ROOT

t.test('the README lists every file of the adversarial suite, and only those', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const start = readme.indexOf('#### The adversarial suite')
  t.ok(start >= 0, 'README has the adversarial suite section')
  const section = readme.slice(start, readme.indexOf('\n### ', start))
  const listed = [...section.matchAll(/^- `([\w-]+\.test\.ts)`: /gm)].map((m) => m[1])
  const files = readdirSync(join(root, 'test/security')).filter((f) => f.endsWith('.test.ts'))
  t.same([...listed].sort(), [...files].sort(), 'README list = test/security/*.test.ts')
})
