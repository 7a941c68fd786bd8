// The rough edges of `sigil-server`'s command line (issue 12, item 9): an unknown option,
// a selector missing its value, `entry show --entry-id` of a missing entry, --version,
// required options marked in --help, and the one JSON style shared with sigil-agent.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from '../../helpers/server-process.js'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string
}
const WEB = 'spiffe://example.org/ns/prod/sa/web'
const AGENT = 'spiffe://example.org/sigil/agent/join_token/abc'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

t.test('an unknown option says so, with or without a value, and exits 2', async (t) => {
  for (const args of [
    ['entry', 'show', '--no-such', 'value'],
    ['entry', 'show', '--no-such'],
    ['agent', 'list', '--no-such=1'],
    ['run', '--no-such', 'value'],
  ]) {
    const r = await f.cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, /unknown option --no-such/, args.join(' '))
    t.notMatch(r.stderr, /positional/)
    t.equal(r.stderr.split('\n').length, 2, 'one line')
  }
})

t.test('a selector missing its value says the value is missing', async (t) => {
  for (const [selector, want, notWant] of [
    ['unix:uid', /the value is missing/, /key is missing/],
    ['unix:', /the key is missing/, /value is missing/],
  ] as const) {
    const args = ['entry', 'create', '--spiffe-id', WEB, '--parent-id', AGENT, '--selector', selector]
    const r = await f.cli(args)
    t.equal(r.code, 2, selector)
    t.match(r.stderr, want, selector)
    t.notMatch(r.stderr, notWant, selector)
  }
})

t.test('entry show --entry-id of a missing entry exits 2 like update and delete', async (t) => {
  const show = await f.cli(['entry', 'show', '--entry-id', 'nope'])
  t.equal(show.code, 2)
  t.equal(show.stdout, '')
  t.equal(show.stderr, 'sigil-server entry show: entry nope not found\n')
  t.equal((await f.cli(['entry', 'delete', '--entry-id', 'nope'])).code, 2)
  t.equal((await f.cli(['entry', 'update', '--entry-id', 'nope', '--hint', 'x'])).code, 2)
  // Filters that match nothing are not an error (SPIRE prints "Found 0 entries" too).
  const none = await f.cli(['entry', 'show', '--spiffe-id', 'spiffe://example.org/nobody'])
  t.equal(none.code, 0)
  t.equal(none.stdout, 'Found 0 entries\n')
})

t.test('--version and -v print the package version', async (t) => {
  for (const flag of ['--version', '-v']) {
    const r = await f.cli([flag])
    t.equal(r.code, 0)
    t.equal(r.stdout, `sigil-server ${pkg.version}\n`)
  }
})

t.test('required options are marked "(required)" in --help', async (t) => {
  const create = await f.cli(['entry', 'create', '--help'])
  t.match(create.stdout, /--spiffe-id=<id>\s+SPIFFE ID the entry issues \(required without --data\)/)
  t.match(
    create.stdout,
    /--selector=<type:key:value>\s+Selector the caller must have, repeatable \(required\s+without --data\)/,
  )
  t.match(
    (await f.cli(['jwt', 'mint', '--help'])).stdout,
    /--audience=<aud>\s+An aud value, repeatable \(required\)/,
  )
  t.match(
    (await f.cli(['agent', 'ban', '--help'])).stdout,
    /--spiffe-id=<id>\s+The agent's SPIFFE ID \(required\)/,
  )
})

t.test('--output json is one pretty JSON document (2-space indent), like sigil-agent', async (t) => {
  for (const args of [['entry', 'count'], ['healthcheck'], ['agent', 'list']]) {
    const r = await f.cli([...args, '--output', 'json'])
    t.equal(r.code, 0, r.stderr)
    t.equal(r.stdout, `${JSON.stringify(JSON.parse(r.stdout), null, 2)}\n`, args.join(' '))
  }
})
