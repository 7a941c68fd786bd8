import t from 'tap'
import { isSigilError } from '../../../certs/errors.js'
import { echo } from '../../../certs/lib/echo.js'
import { parseSelector } from '../../../certs/selector/selector.js'
import {
  checkSelectorRule,
  namesCaller,
  SELECTOR_RULES,
  SELECTOR_TYPES,
  selectorProblem,
} from '../../../certs/selector/selector-rules.js'

const problem = (text: string) => selectorProblem(parseSelector(text))
const HEX = 'ab'.repeat(32)

t.test('accepts what the attestors emit, for every kind', async (t) => {
  const good = [
    'unix:uid:0',
    'unix:uid:1000',
    'unix:uid:4294967294',
    'unix:gid:65534',
    'unix:supplementary_gid:27',
    'unix:user:root',
    'unix:user:www-data',
    'unix:user:machine$',
    'unix:group:docker',
    'unix:supplementary_group:sudo',
    'unix:path:/usr/bin/node',
    'unix:path:/',
    `unix:sha256:${HEX}`,
    'proc:script:/srv/app/planner.js',
    `proc:script_sha256:${HEX}`,
    'proc:module:http.server',
    'proc:cgroup:/system.slice/app.service',
    'proc:cgroup:/',
    'proc:cgroup_v1:cpu,cpuacct:/user.slice',
    'proc:cgroup_v1:name=systemd:/user.slice/user-0.slice',
    'x509pop:subject:cn:node 1.example.org',
    `x509pop:ca:fingerprint:${HEX}`,
    'x509pop:san:dns:node1.example.org',
    'x509pop:san:dns:*.example.org',
    'x509pop:serialnumber:00ab12',
  ]
  for (const s of good) t.equal(problem(s), undefined, s)
  // every kind in the table is covered above
  for (const r of SELECTOR_RULES)
    t.ok(
      good.some((g) => g.startsWith(`${r.kind}:`)),
      r.kind,
    )
})

t.test('refuses values that can never match, naming the rule', async (t) => {
  const bad: [string, RegExp][] = [
    ['foo:bar:baz', /unknown selector type "foo" \(known types: unix, proc, x509pop\)/],
    ['unix:shoe:1', /unknown unix selector "shoe" \(known: unix:uid, /],
    ['unix:uid:abc', /unix:uid must be a decimal id 0\.\.4294967294/],
    ['unix:uid:-1', /decimal id/],
    ['unix:uid:+1', /decimal id/],
    ['unix:uid:01', /no leading zeros/],
    ['unix:uid:4294967295', /decimal id/],
    ['unix:uid:99999999999999999999', /decimal id/],
    ['unix:uid:0:0', /decimal id/],
    ['unix:uid:1000 ', /leading or trailing whitespace/],
    ['unix:gid: 1', /leading or trailing whitespace/],
    ['unix:user:-rf', /user or group name/],
    ['unix:user:a b', /user or group name/],
    ['unix:group:a/b', /user or group name/],
    ['unix:path:rel/path', /unix:path must be an absolute, normalized path/],
    ['unix:path:/usr//bin', /normalized/],
    ['unix:path:/usr/bin/', /normalized/],
    ['unix:path:/usr/../bin', /normalized/],
    ['unix:path:/usr/./bin', /normalized/],
    ['proc:script:app.js', /proc:script must be an absolute/],
    ['unix:sha256:ABCD', /64 lowercase hex/],
    [`unix:sha256:${HEX.toUpperCase()}`, /64 lowercase hex/],
    ['proc:script_sha256:12', /64 lowercase hex/],
    ['proc:module:http..server', /Python module name/],
    ['proc:module:-m', /Python module name/],
    ['proc:cgroup:system.slice', /absolute/],
    ['proc:cgroup_v1:/user.slice', /controllers/],
    ['proc:cgroup_v1:CPU:/x', /controllers/],
    ['x509pop:ca:fingerprint:zz', /64 lowercase hex/],
    ['x509pop:san:dns:a b', /DNS name/],
    ['x509pop:serialnumber:0xAB', /lowercase hex/],
    ['x509pop:subject:cn: padded', /whitespace/],
  ]
  for (const [text, why] of bad) t.match(problem(text), why, text)
})

t.test('checkSelectorRule throws ERR_SELECTOR_INVALID and bounds the echo', async (t) => {
  t.same(checkSelectorRule({ type: 'unix', value: 'uid:1' }), { type: 'unix', value: 'uid:1' })
  const long = { type: 'unix', value: `path:rel/${'x'.repeat(900)}` }
  let error: unknown
  try {
    checkSelectorRule(long)
  } catch (e) {
    error = e
  }
  t.ok(isSigilError(error, 'ERR_SELECTOR_INVALID'))
  t.ok((error as Error).message.length < 300, 'message is bounded')
  t.match((error as Error).message, /…/)
  t.equal(echo('abc'), 'abc')
  t.equal(echo('x'.repeat(65)), `${'x'.repeat(64)}…`)
  t.same(SELECTOR_TYPES, ['unix', 'proc', 'x509pop'])
})

t.test(
  'namesCaller: only uid/gid/user/group (primary or supplementary) name who runs a process',
  async (t) => {
    const sel = (...texts: string[]) => texts.map(parseSelector)
    t.notOk(namesCaller(sel('proc:script:/srv/a.js')))
    t.notOk(namesCaller(sel('proc:script:/srv/a.js', `proc:script_sha256:${HEX}`, 'unix:path:/usr/bin/node')))
    t.notOk(namesCaller(sel('proc:cgroup:/system.slice/a.service')))
    for (const s of [
      'unix:uid:1',
      'unix:gid:1',
      'unix:user:a',
      'unix:group:a',
      'unix:supplementary_gid:1',
      'unix:supplementary_group:a',
    ]) {
      t.ok(namesCaller(sel('proc:script:/srv/a.js', s)), s)
    }
  },
)
