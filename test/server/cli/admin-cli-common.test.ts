import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startAdminApiServer } from '../../../server/endpoints/admin-api-server.js'
import { type AdminFixture, makeStaleSocket, runCaptured, startAdminFixture, TD } from './admin-test-kit.js'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

t.test('every admin command has --help listing the common options', async (t) => {
  for (const argv of [
    ['token', 'generate'],
    ['entry', 'create'],
    ['entry', 'show'],
    ['entry', 'update'],
    ['entry', 'delete'],
    ['entry', 'count'],
    ['agent', 'list'],
    ['agent', 'show'],
    ['agent', 'evict'],
    ['agent', 'ban'],
    ['bundle', 'show'],
    ['x509', 'mint'],
    ['jwt', 'mint'],
    ['svid', 'list'],
    ['healthcheck'],
  ]) {
    const r = await runCaptured([...argv, '--help'], {})
    t.equal(r.code, 0, argv.join(' '))
    t.match(r.stdout, `sigil-server ${argv.join(' ')} [options]`)
    t.match(r.stdout, '--admin-socket=<path>')
    t.match(r.stdout, '--output=<format>')
    t.equal(r.stderr, '')
  }
})

t.test('verb dispatch: missing or unknown verbs are usage errors', async (t) => {
  const none = await runCaptured(['entry'], {})
  t.equal(none.code, 2)
  t.equal(
    none.stderr,
    'sigil-server entry: a verb is required (one of: create, show, update, delete, count)\n',
  )
  const unknown = await runCaptured(['agent', 'kick'], {})
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /^sigil-server agent: unknown verb "kick"/)
  const proto = await runCaptured(['agent', 'constructor'], {})
  t.equal(proto.code, 2, 'object prototype names are not verbs')
  const help = await runCaptured(['agent', '--help'], {})
  t.equal(help.code, 0)
  t.match(help.stdout, /usage: sigil-server agent <list\|show\|count\|evict\|purge\|ban> \[options\]/)
})

t.test('an unreachable socket fails with exit 1 and one line', async (t) => {
  const missing = join(f.dir, 'missing.sock')
  const r = await runCaptured(['entry', 'count', '--admin-socket', missing], {})
  t.equal(r.code, 1)
  t.equal(r.stdout, '')
  t.equal(
    r.stderr,
    `sigil-server entry count: admin socket ${missing} does not exist (is sigil-server running? see --admin-socket)\n`,
  )
  // a socket file nobody listens on
  const dir = await mkdtemp(join(tmpdir(), 'sigil-dead-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  makeStaleSocket(join(dir, 'admin.sock'))
  const dead = await runCaptured(['healthcheck', '--admin-socket', join(dir, 'admin.sock')], {})
  t.equal(dead.code, 1)
  t.match(dead.stderr, /^sigil-server healthcheck: cannot reach the admin API at /)
  t.equal(dead.stderr.split('\n').length, 2, dead.stderr)
})

t.test(
  'the socket comes from --admin-socket, else SIGIL_ADMIN_SOCKET, else ./.sigil/server/private/admin.sock',
  async (t) => {
    const flag = await runCaptured(['entry', 'count', '--admin-socket', f.socketPath], {
      SIGIL_ADMIN_SOCKET: '/nonexistent.sock',
    })
    t.equal(flag.code, 0, 'the flag wins over the environment')
    const env = await runCaptured(['entry', 'count'], { SIGIL_ADMIN_SOCKET: f.socketPath })
    t.equal(env.code, 0, 'the environment is used without the flag')

    const cwd = await mkdtemp(join(tmpdir(), 'sigil-cwd-'))
    const previous = process.cwd()
    t.teardown(async () => {
      process.chdir(previous)
      await rm(cwd, { recursive: true, force: true })
    })
    // Looked up in a folder of its own: the developer's own ./.sigil (a running `npm start`)
    // must not change the outcome.
    process.chdir(cwd)
    const missing = await runCaptured(['entry', 'count'], {})
    t.equal(missing.code, 1)
    t.match(missing.stderr, `${join(process.cwd(), '.sigil/server/private/admin.sock')} does not exist`)
    await mkdir(join(cwd, '.sigil', 'server'), { recursive: true })
    const server = await startAdminApiServer({
      socketPath: join(cwd, '.sigil/server/private/admin.sock'),
      trustDomain: TD,
      datastore: f.datastore,
      ca: f.ca,
      logger: f.logger,
      clock: () => new Date(),
      joinTokenTtlSeconds: 60,
      defaultX509SvidTtlSeconds: 60,
      defaultJwtSvidTtlSeconds: 60,
      revocations: f.revocations,
    })
    t.teardown(() => server.close())
    process.chdir(cwd)
    const byDefault = await runCaptured(['entry', 'count', '--output', 'json'], {})
    t.equal(byDefault.code, 0, byDefault.stderr)
    t.same(JSON.parse(byDefault.stdout), { count: 0 })
  },
)

t.test('healthcheck: exit 0 when healthy, 1 when not', async (t) => {
  t.same(await f.cli(['healthcheck']), { code: 0, stdout: 'Server is healthy.\n', stderr: '' })
  t.same(JSON.parse((await f.cli(['healthcheck', '--output', 'json'])).stdout), {
    serving: true,
    problems: [],
  })

  const sick = await startAdminFixture()
  await sick.datastore.close()
  t.teardown(() => sick.close())
  const r = await sick.cli(['healthcheck'])
  t.equal(r.code, 1)
  t.equal(r.stdout, '')
  t.match(r.stderr, /^sigil-server healthcheck: server is unhealthy: datastore: datastore is closed/)
  t.equal(r.stderr.split('\n').length, 2)
  const json = await sick.cli(['healthcheck', '--output', 'json'])
  t.equal(json.code, 1)
  t.match(JSON.parse(json.stdout), { serving: false, problems: [/^datastore: /] })
})

t.test('an internal failure exits 1 with a generic message', async (t) => {
  const broken = await startAdminFixture()
  await broken.datastore.close()
  t.teardown(() => broken.close())
  const r = await broken.cli(['entry', 'count'])
  t.equal(r.code, 1)
  t.equal(r.stderr, 'sigil-server entry count: internal error\n', 'no internal detail leaks')
  t.match(broken.logger.text(), /internal error/)
})
