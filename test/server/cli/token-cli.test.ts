import { createHash } from 'node:crypto'
import t from 'tap'
import { joinTokenHash } from '../../../server/nodeattestation/join-token-attestor.js'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const ALIAS = 'spiffe://example.org/nodes/node-1'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture({ fakeClock: true })
})
t.teardown(() => f.close())

t.test('token generate prints the token alone; only its hash is stored', async (t) => {
  const r = await f.cli(['token', 'generate', '--spiffe-id', ALIAS])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '')
  t.match(r.stdout, /^[0-9a-f]{64}\n$/, 'one 32-byte hex token and a newline')
  const token = r.stdout.trim()
  t.equal(joinTokenHash(token), createHash('sha256').update(token).digest('hex'))
  t.notMatch(f.logger.text(), token, 'the token is never logged')
  const raw = await import('node:fs').then((fs) => fs.readFileSync(`${f.dir}/datastore.sqlite3`))
  t.notOk(raw.includes(Buffer.from(token)), 'the token is not in the datastore file')
  t.same(await f.datastore.consumeJoinToken(joinTokenHash(token), f.clock.now()), { spiffeId: ALIAS })
  await t.rejects(f.datastore.consumeJoinToken(joinTokenHash(token), f.clock.now()), {
    code: 'ERR_TOKEN_USED',
  })
})

t.test('token lifetime: the server default, or --ttl', async (t) => {
  const now = Math.floor(f.clock.ms / 1000)
  const byDefault = JSON.parse(
    (await f.cli(['token', 'generate', '--spiffe-id', ALIAS, '--output', 'json'])).stdout,
  )
  t.match(byDefault, { spiffe_id: ALIAS, expires_at: now + 600 })
  t.match(byDefault.token, /^[0-9a-f]{64}$/)
  const hour = JSON.parse(
    (await f.cli(['token', 'generate', '--spiffe-id', ALIAS, '--ttl', '1h', '--output', 'json'])).stdout,
  )
  t.equal(hour.expires_at, now + 3600)
  f.clock.advance(3601_000)
  await t.rejects(f.datastore.consumeJoinToken(joinTokenHash(hour.token), f.clock.now()), {
    code: 'ERR_TOKEN_EXPIRED',
  })
})

t.test('token generate refuses bad input with exit 2', async (t) => {
  for (const argv of [
    ['token', 'generate'],
    ['token', 'generate', '--spiffe-id', 'spiffe://example.org'],
    ['token', 'generate', '--spiffe-id', 'spiffe://other.org/node'],
    ['token', 'generate', '--spiffe-id', 'spiffe://example.org/sigil/server'],
    ['token', 'generate', '--spiffe-id', ALIAS, '--ttl', '-5'],
    ['token', 'generate', '--spiffe-id', ALIAS, '--ttl', 'soon'],
  ]) {
    const r = await f.cli(argv)
    t.equal(r.code, 2, argv.join(' '))
    t.equal(r.stdout, '')
    t.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr.trim()}`)
  }
})

t.test('token with no verb or an unknown verb is a usage error', async (t) => {
  const none = await f.cli(['token'])
  t.equal(none.code, 2)
  t.match(none.stderr, /^sigil-server token: a verb is required \(one of: generate\)\n$/)
  const help = await f.cli(['token', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /generate {2}Create a one-time join token/)
})
