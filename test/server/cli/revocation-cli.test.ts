// `svid revoke`, `revocation list` and the revoked mark in `svid list`, through the real
// admin API on a real socket (SQLite in a temp dir); bad input is exit 2 and changes nothing.
import { decodeJwt } from 'jose'
import t from 'tap'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const WEB = 'spiffe://example.org/ns/prod/sa/web'
const DB = 'spiffe://example.org/ns/prod/sa/db'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

async function json(
  argv: string[],
): Promise<Record<string, unknown> & { revocations: Record<string, unknown>[] }> {
  const r = await f.cli([...argv, '--output', 'json'])
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

t.test('svid revoke --jti / --serial, then revocation list and svid list show it', async (t) => {
  const minted = JSON.parse(
    (await f.cli(['jwt', 'mint', '--spiffe-id', WEB, '--audience', 'db', '--output', 'json'])).stdout,
  )
  const jti = decodeJwt(minted.token).jti as string
  const r = await f.cli(['svid', 'revoke', '--jti', jti, '--reason', 'token leaked'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^Found 1 revoked credential\n\n/)
  t.match(
    r.stdout,
    `Kind             : jwt_jti\nValue            : ${jti}\nReason           : token leaked\n`,
  )

  const serial = await json(['svid', 'revoke', '--serial', '0A:BC:DE', '--reason', 'nobody issued this'])
  t.match(serial, { sequence: 2, revocations: [{ kind: 'x509_serial', value: '0abcde', sequence: 2 }] })

  const again = await json(['svid', 'revoke', '--jti', jti])
  t.match(
    again,
    { sequence: 2, revocations: [{ value: jti, sequence: 1, reason: 'token leaked' }] },
    'harmless repeat',
  )

  const list = await json(['revocation', 'list'])
  t.equal(list.sequence, 2)
  t.same(
    list.revocations.map((x) => [x.kind, x.value]),
    [
      ['jwt_jti', jti],
      ['x509_serial', '0abcde'],
    ],
  )
  const pretty = await f.cli(['revocation', 'list'])
  t.match(pretty.stdout, /^Sequence number {2}: 2\nFound 2 revocations\n\n/)

  const svids = JSON.parse((await f.cli(['svid', 'list', '--spiffe-id', WEB, '--output', 'json'])).stdout)
  t.ok(svids.svids[0].revoked_at > 0, 'svid list marks the revoked JWT-SVID')
  t.match((await f.cli(['svid', 'list', '--spiffe-id', WEB])).stdout, /Revoked at {7}: \d{4}-/)
})

t.test('svid revoke --spiffe-id revokes every live SVID of that ID', async (t) => {
  for (const aud of ['a', 'b']) {
    t.equal((await f.cli(['jwt', 'mint', '--spiffe-id', DB, '--audience', aud])).code, 0)
  }
  const res = await json(['svid', 'revoke', '--spiffe-id', DB, '--reason', 'compromised'])
  t.equal(res.revocations.length, 2)
  t.ok(res.revocations.every((r) => r.kind === 'jwt_jti' && r.reason === 'compromised'))
  const none = await json(['svid', 'revoke', '--spiffe-id', 'spiffe://example.org/nobody'])
  t.same(none.revocations, [], 'an ID with no live SVID revokes nothing')
})

t.test('bad input is exit 2 with one line and revokes nothing', async (t) => {
  const before = (await f.datastore.listRevocations()).length
  for (const argv of [
    ['svid', 'revoke'],
    ['svid', 'revoke', '--jti', 'a', '--serial', 'ab'],
    ['svid', 'revoke', '--serial', 'not-hex'],
    ['svid', 'revoke', '--jti', ''],
    ['svid', 'revoke', '--spiffe-id', 'spiffe://other.org/web'],
    ['svid', 'revoke', '--spiffe-id', 'spiffe://example.org/a/../b'],
    ['svid', 'revoke', '--jti', 'x'.repeat(300)],
    ['svid', 'revoke', '--jti', 'a', '--reason', 'r'.repeat(2000)],
    ['svid', 'revoke', '--task-id', 'task-1'],
  ]) {
    const r = await f.cli(argv)
    t.equal(r.code, 2, `${argv.join(' ').slice(0, 80)}: ${r.stderr}`)
    t.equal(r.stderr.split('\n').length, 2, r.stderr)
  }
  t.equal((await f.datastore.listRevocations()).length, before, 'nothing revoked')
})
