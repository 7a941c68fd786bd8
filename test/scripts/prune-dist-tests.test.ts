import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { pruneStaleTestOutputs } from '../../scripts/prune-dist-tests.js'

t.test('compiled tests whose source is gone are removed; the others stay', async (t) => {
  const dir = t.testdir({
    test: { a: { 'kept.test.ts': '', 'helper.ts': '' } },
    dist: {
      test: {
        a: {
          'kept.test.js': '',
          'kept.test.js.map': '',
          'kept.test.d.ts': '',
          'helper.js': '',
          'gone.test.js': '',
          'gone.test.js.map': '',
          'gone.test.d.ts': '',
          'gone.test.d.ts.map': '',
          'notes.txt': '',
        },
        old: { 'moved.test.js': '' },
      },
    },
  })
  const dist = join(dir, 'dist/test')
  const removed = pruneStaleTestOutputs(dist, join(dir, 'test')).map((p) => p.slice(dist.length + 1))
  t.same(removed.sort(), [
    'a/gone.test.d.ts',
    'a/gone.test.d.ts.map',
    'a/gone.test.js',
    'a/gone.test.js.map',
    'old/moved.test.js',
  ])
  for (const kept of ['kept.test.js', 'kept.test.js.map', 'kept.test.d.ts', 'helper.js', 'notes.txt'])
    t.ok(existsSync(join(dist, 'a', kept)), `${kept} stays`)
  t.same(
    pruneStaleTestOutputs(join(dir, 'nowhere'), join(dir, 'test')),
    [],
    'no dist/test yet: nothing to do',
  )
})
