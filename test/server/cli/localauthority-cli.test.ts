// `sigil-server localauthority x509|jwt …` and `logger get|set|reset` in-process against a real
// admin API (real CaManager, SQLite): output shapes, SPIRE's -authorityID and -level aliases,
// exit codes of refusals, and usage errors that never reach the server.
import t from 'tap'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

t.test('show, prepare, activate, taint, revoke (pretty and json)', async (t) => {
  const shown = await f.cli(['localauthority', 'x509', 'show'])
  t.equal(shown.code, 0, shown.stderr)
  t.match(shown.stdout, /^Active:\n {2}Authority ID {9}: [0-9a-f]{40}\n {2}Expires at {11}: \d{4}-/)
  t.match(shown.stdout, /Prepared:\n {2}No prepared found\./)
  t.match(shown.stdout, /Old:\n {2}No old found\./)
  const json = JSON.parse((await f.cli(['localauthority', 'x509', 'show', '--output', 'json'])).stdout)
  const oldId = json.active.authority_id as string
  t.match(json, {
    active: { status: 'active', tainted: false, certificate_sha256: /^[0-9a-f]{64}$/ },
    prepared: null,
    old: [],
  })

  const prepared = await f.cli(['localauthority', 'x509', 'prepare'])
  t.equal(prepared.code, 0, prepared.stderr)
  const newId = /Authority ID\s+: ([0-9a-f]+)/.exec(prepared.stdout)?.[1] ?? ''
  t.match(prepared.stdout, /^Prepared X\.509 authority:/)
  const activated = await f.cli(['localauthority', 'x509', 'activate', '-authorityID', newId])
  t.equal(activated.code, 0, activated.stderr)
  t.match(activated.stdout, /^Activated X\.509 authority:/)
  const tainted = await f.cli([
    'localauthority',
    'x509',
    'taint',
    '--authority-id',
    oldId,
    '--output',
    'json',
  ])
  t.equal(tainted.code, 0, tainted.stderr)
  t.match(JSON.parse(tainted.stdout), { authority: { authority_id: oldId, status: 'old', tainted: true } })
  const revoked = await f.cli(['localauthority', 'x509', 'revoke', '--authority-id', oldId])
  t.equal(revoked.code, 0, revoked.stderr)
  t.match(revoked.stdout, /^Revoked X\.509 authority:/)
  const after = JSON.parse((await f.cli(['localauthority', 'x509', 'show', '--output', 'json'])).stdout)
  t.match(after, { active: { authority_id: newId }, prepared: null, old: [] })

  const jwt = JSON.parse((await f.cli(['localauthority', 'jwt', 'show', '--output', 'json'])).stdout)
  t.match(jwt.active, { authority_id: /^[A-Za-z0-9]{32}$/, status: 'active' })
  t.notOk('certificate_sha256' in jwt.active, 'a JWT key has no certificate')
})

t.test('refusals and usage errors', async (t) => {
  const active = JSON.parse((await f.cli(['localauthority', 'x509', 'show', '--output', 'json'])).stdout)
    .active.authority_id as string
  for (const action of ['taint', 'revoke']) {
    const r = await f.cli(['localauthority', 'x509', action, '--authority-id', active])
    t.equal(r.code, 2, `${action} of the active authority: FAILED_PRECONDITION, exit 2`)
    t.match(r.stderr, new RegExp(`X\\.509 authority ${active}: `))
    t.equal(r.stderr.split('\n').length, 2, 'one line')
  }
  const unknown = await f.cli(['localauthority', 'jwt', 'taint', '--authority-id', 'nope'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /no JWT authority with ID nope/)
  const missing = await f.cli(['localauthority', 'x509', 'activate'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--authority-id is required/)
  const extra = await f.cli(['localauthority', 'x509', 'prepare', '--authority-id', 'x'])
  t.equal(extra.code, 2)
  t.match(extra.stderr, /prepare takes no --authority-id/)
  const badKind = await f.cli(['localauthority', 'wit', 'show'])
  t.equal(badKind.code, 2)
  t.match(badKind.stderr, /unknown command "wit"/)
  const help = await f.cli(['localauthority', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /x509 taint +Taint an old X\.509 CA/)
})

t.test('logger get, set (SPIRE -level), reset', async (t) => {
  const got = await f.cli(['logger', 'get'])
  t.equal(got.code, 0, got.stderr)
  t.equal(got.stdout, 'Logger Level : info\nLaunch Level : info\n')
  const set = await f.cli(['logger', 'set', '-level', 'debug', '--output', 'json'])
  t.equal(set.code, 0, set.stderr)
  t.same(JSON.parse(set.stdout), { current_level: 'debug', launch_level: 'info' })
  t.equal(f.logLevel.level, 'debug', 'the running logger changed')
  t.ok(
    f.logger.entries.some((e) => e.msg === 'log level changed by an operator' && e.obj.new_level === 'debug'),
    'the change is logged',
  )
  const bad = await f.cli(['logger', 'set', '--level', 'trace'])
  t.equal(bad.code, 2, 'a level outside debug|info|warn|error is a usage error')
  t.equal(f.logLevel.level, 'debug', 'unchanged')
  const none = await f.cli(['logger', 'set'])
  t.equal(none.code, 2)
  t.match(none.stderr, /--level is required/)
  const reset = await f.cli(['logger', 'reset'])
  t.equal(reset.code, 0)
  t.equal(f.logLevel.level, 'info')
  t.match(reset.stdout, /Logger Level : info/)
})
