// `sigil-server wit mint`: a WIT-SVID that jose verifies with the bundle's wit-svid key, its
// private key as a JWK that matches cnf.jwk, --write with a 0600 key file, and refusals.
import { createPublicKey } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import t from 'tap'
import { encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { privateKeyFromJwkString } from '../../../certs/witsvid/confirmation-key.js'
import { validateWitSvid } from '../../../certs/witsvid/validate-wit-svid.js'
import { createWorkloadProofToken } from '../../../certs/wpt/create-workload-proof-token.js'
import { verifyWorkloadProofToken } from '../../../certs/wpt/verify-workload-proof-token.js'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const WEB = 'spiffe://example.org/ns/prod/sa/web'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

t.test(
  'wit mint --output json: the WIT verifies with the bundle wit-svid key and its key proves possession',
  async (t) => {
    const r = await f.cli(['wit', 'mint', '--spiffe-id', WEB, '--ttl', '10m', '--output', 'json'])
    t.equal(r.code, 0, r.stderr)
    const json = JSON.parse(r.stdout)
    t.match(json, { spiffe_id: WEB, jti: /^[A-Za-z0-9_-]{22}$/ })
    const bundle = f.ca.currentBundle()
    const doc = JSON.parse(encodeSpiffeBundle(bundle)) as { keys: { use: string; kid: string }[] }
    // jose's key sets pick only `use: "sig"` (or no use): hand it the wit-svid keys without theirs
    const witKeys = { keys: doc.keys.filter((k) => k.use === 'wit-svid').map(({ use: _, ...k }) => k) }
    t.equal(witKeys.keys.length, 1, 'one WIT key published')
    t.equal(doc.keys.filter((k) => k.use === 'wit-svid').length, 1)
    t.notOk(bundle.findJwtAuthority(witKeys.keys[0]!.kid), 'its kid is no JWT kid')
    const header = decodeProtectedHeader(json.wit_svid)
    t.same(header, { alg: 'ES256', kid: witKeys.keys[0]!.kid, typ: 'wit+jwt' })
    const { payload } = await jwtVerify(json.wit_svid, createLocalJWKSet(witKeys as never), {
      typ: 'wit+jwt',
    })
    t.equal(payload.sub, WEB)
    t.ok((payload.exp as number) - (payload.iat as number) === 600, '--ttl 10m')
    const wit = validateWitSvid(json.wit_svid, { bundleFor: () => bundle })
    const { privateKey } = privateKeyFromJwkString(JSON.stringify(json.wit_svid_key))
    const wpt = createWorkloadProofToken({
      wit: json.wit_svid,
      privateKey,
      audience: 'https://svc.example.org/x',
    })
    t.ok(
      verifyWorkloadProofToken(wpt, {
        wit: json.wit_svid,
        validatedWit: wit,
        audience: 'https://svc.example.org/x',
      }),
    )

    const text = await f.cli(['wit', 'mint', '--spiffe-id', WEB])
    t.match(text.stdout, /^WIT-SVID:\neyJ[^\n]+\nPrivate key \(JWK\):\n\{"kty":"EC"/)
  },
)

t.test('wit mint --write writes wit.jwt and a 0600 wit-key.jwk', async (t) => {
  const dir = join(f.dir, 'out', 'wit')
  const r = await f.cli(['wit', 'mint', '--spiffe-id', WEB, '--write', dir])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, `WIT-SVID written to ${join(dir, 'wit.jwt')}\n`)
  t.equal((await stat(join(dir, 'wit-key.jwk'))).mode & 0o777, 0o600)
  const token = (await readFile(join(dir, 'wit.jwt'), 'utf8')).trim()
  const { privateKey } = privateKeyFromJwkString((await readFile(join(dir, 'wit-key.jwk'), 'utf8')).trim())
  const wit = validateWitSvid(token, { bundleFor: () => f.ca.currentBundle() })
  t.ok(wit.confirmationKey.equals(createPublicKey(privateKey)), 'cnf.jwk is the written key')
})

t.test('wit mint refuses a foreign SPIFFE ID and a missing one', async (t) => {
  const foreign = await f.cli(['wit', 'mint', '--spiffe-id', 'spiffe://other.org/x'])
  t.not(foreign.code, 0)
  t.match(foreign.stderr, /trust domain|other\.org/)
  const none = await f.cli(['wit', 'mint'])
  t.equal(none.code, 2)
})
