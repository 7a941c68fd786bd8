// Attacks on the admin API's input, against the real sigil-server process and its CLI: an
// operator (or a script with the admin socket) stores selectors that can never match, asks
// for impossible look-backs, sends a megabyte-long field, or registers a workload entry any
// user on the node can match. Each is refused with exit 2 / INVALID_ARGUMENT and a message
// naming the rule; the server stays healthy and answers the next call on the same channel.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { type ServerProcess, shortTempDir, startServerProcess } from '../helpers/server-process.js'
import { rawAdminClient } from './harness.js'

const TD = 'spiffe://example.org'
const PARENT = `${TD}/agent/node-1`

let server: ServerProcess
t.before(async () => {
  server = await startServerProcess(shortTempDir(t))
})
t.teardown(async () => {
  await server?.stop()
})

const rawAdmin = () => rawAdminClient(server.adminSocket)

const entryArgs = (path: string, ...selectors: string[]) => [
  'entry',
  'create',
  '--spiffe-id',
  `${TD}/${path}`,
  '--parent-id',
  PARENT,
  ...selectors.flatMap((s) => ['--selector', s]),
]

// Each selector below could never match anything an attestor emits; storing it would make an
// entry that silently never issues (or, for a typo of a real rule, silently weaker).
t.test(
  'selectors that can never match are refused with the rule, by the CLI and the admin API',
  async (t) => {
    const cases: [string, RegExp][] = [
      ['foo:bar:baz', /unknown selector type "foo" \(known types: unix, proc, x509pop\)/],
      ['unix:uid:abc', /unix:uid must be a decimal id 0\.\.4294967294/],
      ['unix:uid:-1', /decimal id/],
      ['unix:uid:99999999999999999999', /decimal id/],
      ['unix:uid:1000 ', /leading or trailing whitespace/],
      ['unix:uid:0:0', /decimal id/],
      ['unix:path:rel/path', /unix:path must be an absolute, normalized path/],
    ]
    const raw = rawAdmin()
    t.teardown(() => raw.close())
    for (const [selector, rule] of cases) {
      const run = await server.cli(...entryArgs('bad', selector))
      t.equal(run.code, 2, `CLI exit 2 for ${JSON.stringify(selector)}`)
      t.match(run.stderr, rule, `CLI names the rule for ${JSON.stringify(selector)}`)
      const colon = selector.indexOf(':')
      const { err } = await raw.call('CreateEntry', {
        entry: {
          spiffe_id: `${TD}/bad`,
          parent_id: PARENT,
          selectors: [
            { type: 'unix', value: 'uid:1000' },
            { type: selector.slice(0, colon), value: selector.slice(colon + 1) },
          ],
        },
      })
      t.equal(err?.code, status.INVALID_ARGUMENT, `raw gRPC INVALID_ARGUMENT for ${JSON.stringify(selector)}`)
      t.match(err?.details, rule)
    }
    const count = await server.cli('entry', 'count', '--output', 'json')
    t.same(JSON.parse(count.stdout), { count: 0 }, 'nothing was stored')
  },
)

// A workload entry selected only by proc:script can be matched by any process of any user
// that runs the same script path (the command line is the process's own claim).
t.test('a workload entry naming no uid/gid/user/group needs --allow-script-only', async (t) => {
  const script = 'proc:script:/srv/app/planner.js'
  const refused = await server.cli(...entryArgs('planner', script))
  t.equal(refused.code, 2)
  t.match(refused.stderr, /--allow-script-only/)
  t.match(refused.stderr, /unix:uid, unix:gid, unix:user or unix:group/)

  const withUid = await server.cli(...entryArgs('planner', script, 'unix:uid:1000'), '--output', 'json')
  t.equal(withUid.code, 0, withUid.stderr)
  const forced = await server.cli(
    ...entryArgs('planner-any-user', script),
    '--allow-script-only',
    '--output',
    'json',
  )
  t.equal(forced.code, 0, forced.stderr)

  // update: dropping the uid from an entry is the same weakening
  const id = (JSON.parse(withUid.stdout) as { entry: { id: string } }).entry.id
  const weakened = await server.cli('entry', 'update', '--entry-id', id, '--selector', script)
  t.equal(weakened.code, 2)
  t.match(weakened.stderr, /--allow-script-only/)
  const ttlOnly = await server.cli('entry', 'update', '--entry-id', id, '--x509-svid-ttl', '10m')
  t.equal(ttlOnly.code, 0, 'an update that does not touch selectors is not concerned')
  const forcedId = (JSON.parse(forced.stdout) as { entry: { id: string } }).entry.id
  const hint = await server.cli('entry', 'update', '--entry-id', forcedId, '--hint', 'kept')
  t.equal(hint.code, 0, 'nor is one of an entry stored with --allow-script-only')

  // node-alias entries select agents by x509pop selectors; the rule does not apply to them
  const alias = await server.cli(
    'entry',
    'create',
    '--node',
    '--spiffe-id',
    `${TD}/cluster/prod`,
    '--selector',
    'x509pop:san:dns:node1.example.org',
  )
  t.equal(alias.code, 0, alias.stderr)
})

// `--since 1000000000d` is 8.64e13 s: the look-back date is out of Date's range and the
// datastore threw a TypeError, which became "internal error" and a stack in the log.
t.test('svid list --since beyond 100 years is refused as input, not an internal error', async (t) => {
  const before = server.logs.length
  const run = await server.cli('svid', 'list', '--since', '1000000000d')
  t.equal(run.code, 2)
  t.match(run.stderr, /--since: at most 36500d \(100 years\)/)
  const raw = rawAdmin()
  t.teardown(() => raw.close())
  const { err } = await raw.call('ListSvids', { since_seconds: 86_400_000_000_000 })
  t.equal(err?.code, status.INVALID_ARGUMENT)
  t.match(err?.details, /since_seconds must be a whole number of seconds from 0 to 3153600000/)
  const ok = await server.cli('svid', 'list', '--since', '36500d')
  t.equal(ok.code, 0, ok.stderr)
  const fresh = server.logs.slice(before)
  t.notOk(
    fresh.some((l) => l.msg === 'internal error' || JSON.stringify(l).includes('TypeError')),
    'no internal error and no stack in the log',
  )
})

// A 1 MB field used to be echoed whole in the status message; the trailers exceeded HTTP/2's
// 64 KB header block limit, were never sent, and the call and every later call on that
// connection hung until their deadlines.
t.test('a 1 MB federates_with is refused with a bounded echo; the channel keeps working', async (t) => {
  const raw = rawAdmin()
  t.teardown(() => raw.close())
  const huge = 'x'.repeat(1_000_000)
  const { err } = await raw.call('CreateEntry', {
    entry: {
      spiffe_id: `${TD}/fed`,
      parent_id: PARENT,
      selectors: [{ type: 'unix', value: 'uid:1000' }],
      federates_with: [huge],
    },
  })
  t.equal(err?.code, status.INVALID_ARGUMENT, String(err?.details))
  t.match(err?.details, /invalid trust domain "x{64}…": trust domain is longer than 255 bytes/)
  t.ok((err?.details.length ?? Infinity) < 200, 'the input is not echoed whole')
  const next = await raw.call('CountEntries', {})
  t.equal(next.err, undefined, 'the next call on the same channel is answered')
  t.type((next.res as { count: number }).count, 'number')

  // the CLI: argv caps one argument at 128 KiB, so 100 kB is the largest it can pass
  const run = await server.cli(...entryArgs('fed', 'unix:uid:1000'), '--federates-with', 'y'.repeat(100_000))
  t.equal(run.code, 2)
  t.ok(run.stderr.length < 300, `one short line on stderr (${run.stderr.length} chars)`)
  t.match(run.stderr, /y{64}…/)
})

// A batch is no way around the script-only rule: each entry of `entry create --data` goes
// through the same CreateEntry checks as one `entry create`.
t.test('entry create --data cannot smuggle a script-only entry past the rule', async (t) => {
  const file = join(server.dataDir, 'batch.json')
  const entry = (name: string, selectors: { type: string; value: string }[]) => ({
    spiffe_id: `${TD}/batch-${name}`,
    parent_id: PARENT,
    selectors,
  })
  writeFileSync(
    file,
    JSON.stringify({
      entries: [
        entry('ok', [{ type: 'unix', value: 'uid:1000' }]),
        entry('script-only', [{ type: 'proc', value: 'script:/srv/app/batch.js' }]),
      ],
    }),
  )
  const run = await server.cli('entry', 'create', '--data', file, '--output', 'json')
  t.equal(run.code, 2, run.stderr)
  const { results } = JSON.parse(run.stdout) as { results: { status: { code: number; message: string } }[] }
  t.equal(results[0]?.status.code, status.OK)
  t.equal(results[1]?.status.code, status.INVALID_ARGUMENT)
  t.match(results[1]?.status.message, /--allow-script-only|unix:uid, unix:gid, unix:user or unix:group/)
  const show = await server.cli('entry', 'show', '--spiffe-id', `${TD}/batch-script-only`, '--output', 'json')
  t.same(JSON.parse(show.stdout).entries, [], 'the script-only entry was not stored')
})
