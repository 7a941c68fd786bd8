// bench-results/README.md round-trips through the parser, so a run of one benchmark (or of one
// part) can rewrite its section and keep the others as they were.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseReport, renderReport } from '../../../scripts/bench/report.js'
import { ROOT } from '../../helpers/server-process.js'

t.test('the committed report parses and renders back unchanged', async (t) => {
  const text = readFileSync(join(ROOT, 'bench-results/README.md'), 'utf8')
  const sections = parseReport(text)
  t.ok(sections.size >= 1, `sections: ${[...sections.keys()].join(', ')}`)
  t.equal(renderReport(sections), text)
})

t.test('one section replaced, the others kept', async (t) => {
  const before = renderReport(
    new Map([
      ['certs', new Map([['x509_mint_per_s', '22546']])],
      ['workload-api', new Map([['payload_bytes', '1234']])],
    ]),
  )
  const sections = parseReport(before)
  sections.set(
    'workload-api',
    new Map([...(sections.get('workload-api') ?? []), ['noisy_neighbour', '{"a":1}']]),
  )
  const after = parseReport(renderReport(sections))
  t.same(Object.fromEntries(after.get('certs') ?? []), { x509_mint_per_s: '22546' })
  t.same(Object.fromEntries(after.get('workload-api') ?? []), {
    payload_bytes: '1234',
    noisy_neighbour: '{"a":1}',
  })
})
