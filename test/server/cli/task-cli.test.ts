// `sigil-server task list|show|end` and the entry task flags, in-process against a real admin
// API (real CA, SQLite): pretty and JSON output, filters, exit codes.
import t from 'tap'
import { entryInput } from '../api/agent/agent-api-test-kit.js'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const AGENT = 'spiffe://example.org/sigil/agent/join_token/t1'
const TOOL = 'spiffe://example.org/tool-api'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

async function taskedEntry(spiffeId: string) {
  return f.datastore.createEntry(entryInput({ spiffeId, parentId: AGENT, taskScopes: [TOOL] }))
}

t.test('entry create/update/show with --task-scope, --max-task-ttl, --revoke-on-exit', async (t) => {
  const created = await f.cli([
    'entry',
    'create',
    '--spiffe-id',
    'spiffe://example.org/planner',
    '--parent-id',
    AGENT,
    '--selector',
    'unix:uid:1001',
    '--task-scope',
    TOOL,
    '--task-scope',
    'https://search.example.org',
    '--max-task-ttl',
    '10m',
    '--revoke-on-exit',
    '--output',
    'json',
  ])
  t.equal(created.code, 0, created.stderr)
  const entry = JSON.parse(created.stdout).entry
  t.match(entry, {
    task_scopes: [TOOL, 'https://search.example.org'],
    max_task_ttl: 600,
    revoke_on_exit: true,
  })
  const shown = await f.cli(['entry', 'show', '--entry-id', entry.id])
  t.match(shown.stdout, `Task scope       : ${TOOL}\nTask scope       : https://search.example.org\n`)
  t.match(shown.stdout, 'Max task TTL     : 600s\nRevoke on exit   : true\n')
  const updated = await f.cli([
    'entry',
    'update',
    '--entry-id',
    entry.id,
    '--no-revoke-on-exit',
    '--output',
    'json',
  ])
  t.equal(updated.code, 0, updated.stderr)
  t.match(JSON.parse(updated.stdout).entry, {
    revoke_on_exit: false,
    max_task_ttl: 600,
    task_scopes: [TOOL, 'https://search.example.org'],
  })
  const bad = await f.cli(['entry', 'update', '--entry-id', entry.id, '--task-scope', 'a b'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--task-scope/)
})

t.test('task list, show and end', async (t) => {
  const entry = await taskedEntry('spiffe://example.org/worker')
  const caller = { agentId: AGENT, processKey: '42:4242' }
  const common = {
    entry,
    purpose: 'report',
    scope: [TOOL],
    ttlSeconds: 60,
    onBehalfOf: '',
    parentTxnToken: '',
  }
  const one = await f.tasks.begin(caller, common)
  const two = await f.tasks.begin(caller, { ...common, purpose: 'second' })
  await f.tasks.end(caller, two.task.id, 'completed', '')

  const list = await f.cli(['task', 'list'])
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /^Found 2 tasks\n\n/)
  const active = JSON.parse((await f.cli(['task', 'list', '--state', 'active', '--output', 'json'])).stdout)
  t.same(
    active.tasks.map((x: { task_id: string }) => x.task_id),
    [one.task.id],
  )
  const mine = JSON.parse(
    (await f.cli(['task', 'list', '--spiffe-id', 'spiffe://example.org/nobody', '--output', 'json'])).stdout,
  )
  t.same(mine.tasks, [])
  t.equal((await f.cli(['task', 'list', '--state', 'weird'])).code, 2)

  const show = await f.cli(['task', 'show', '--task-id', one.task.id])
  t.equal(show.code, 0, show.stderr)
  t.match(show.stdout, `Task ID          : ${one.task.id}\nState            : active\n`)
  t.match(show.stdout, `Credential       : txn ${one.task.id} until `)
  t.match(show.stdout, /Event {12}: \S+ begun: scope=/)
  const json = JSON.parse(
    (await f.cli(['task', 'show', '--task-id', one.task.id, '--output', 'json'])).stdout,
  )
  t.match(json, {
    task: { task_id: one.task.id, state: 'active', scope: [TOOL] },
    credentials: [{ kind: 'txn' }],
  })

  const ended = await f.cli(['task', 'end', '--task-id', one.task.id, '--reason', 'operator test'])
  t.equal(ended.code, 0, ended.stderr)
  t.match(ended.stdout, /^Ended\n/)
  t.match(ended.stdout, 'State            : ended (cancelled)\nEnd reason       : operator test\n')
  const again = await f.cli(['task', 'end', '--task-id', one.task.id])
  t.equal(again.code, 2, 'already ended: exit 2')
  t.match(again.stderr, /already ended/)
  const missing = await f.cli(['task', 'show', '--task-id', 'nope'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /not found/)
  const noId = await f.cli(['task', 'end'])
  t.equal(noId.code, 2)
})
