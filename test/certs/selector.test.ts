import t from 'tap'
import {
  formatSelector,
  normalizeSelectors,
  parseSelector,
  selectorSet,
  selectorsMatch,
} from '../../certs/selector/selector.js'

t.test('parses type:key:value, keeping colons in the value', async (t) => {
  t.same(parseSelector('unix:uid:1000'), { type: 'unix', value: 'uid:1000' })
  t.same(parseSelector('proc:cgroup:0::/system.slice/x'), {
    type: 'proc',
    value: 'cgroup:0::/system.slice/x',
  })
  t.equal(formatSelector(parseSelector('unix:sha256:ab12')), 'unix:sha256:ab12')
})

t.test('rejects malformed selectors', async (t) => {
  for (const bad of [
    '',
    'unix',
    'unix:',
    'unix:uid',
    'unix:uid:',
    ':uid:1',
    'UN IX:uid:1',
    'unix::1',
    `unix:a:${'x'.repeat(2000)}`,
  ]) {
    t.throws(() => parseSelector(bad), { code: 'ERR_SELECTOR_INVALID' }, JSON.stringify(bad.slice(0, 20)))
  }
})

t.test('matching needs every entry selector; empty matches nothing', async (t) => {
  const attested = selectorSet([parseSelector('unix:uid:1000'), parseSelector('unix:gid:1000')])
  t.ok(selectorsMatch([parseSelector('unix:uid:1000')], attested))
  t.notOk(selectorsMatch([parseSelector('unix:uid:1000'), parseSelector('unix:user:bob')], attested))
  t.notOk(selectorsMatch([], attested))
})

t.test('normalize sorts and de-duplicates', async (t) => {
  const n = normalizeSelectors([
    parseSelector('unix:uid:2'),
    parseSelector('unix:gid:1'),
    parseSelector('unix:uid:2'),
  ])
  t.same(n.map(formatSelector), ['unix:gid:1', 'unix:uid:2'])
})
