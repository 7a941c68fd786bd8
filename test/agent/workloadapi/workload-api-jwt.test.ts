// JWT-SVIDs over the Workload API: minted tokens validate through ValidateJWTSVID and, with
// jose, against the JWKS from FetchJWTBundles; wrong audiences and bad input are rejected with
// the statuses clients rely on.
import { status } from '@grpc/grpc-js'
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose'
import t from 'tap'
import { RevocationSet } from '../../../agent/cache/revocation-set.js'
import { entry } from '../cache/fake-server.js'
import { fetchJwt, firstMessage, md, startHarness, validateJwt } from './harness.js'

t.test(
  'FetchJWTSVID tokens validate with ValidateJWTSVID and with jose against FetchJWTBundles',
  async (t) => {
    const h = await startHarness(t, {
      entries: ({ uid }) => [
        entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`], hint: 'external' }),
        entry({ id: 'b', path: '/db', selectors: [`unix:uid:${uid}`] }),
      ],
    })
    const c = h.client()
    const all = await fetchJwt(c, { audience: ['spiffe://example.org/api', 'other'] })
    t.same(
      all.res?.svids.map((s) => [s.spiffe_id, s.hint]),
      [
        ['spiffe://example.org/web', 'external'],
        ['spiffe://example.org/db', ''],
      ],
      'one token per identity, in entry order',
    )
    const one = await fetchJwt(c, {
      audience: ['spiffe://example.org/api'],
      spiffe_id: 'spiffe://example.org/db',
    })
    t.equal(one.res?.svids.length, 1)
    const token = one.res!.svids[0]!.svid

    const v = await validateJwt(c, { audience: 'spiffe://example.org/api', svid: token })
    t.equal(v.res?.spiffe_id, 'spiffe://example.org/db')
    const fields = v.res?.claims?.fields ?? {}
    t.equal(fields.sub?.stringValue, 'spiffe://example.org/db')
    t.same(
      fields.aud?.listValue?.values.map((x) => x.stringValue),
      ['spiffe://example.org/api'],
    )
    t.equal(typeof fields.exp?.numberValue, 'number')

    const bundles = await firstMessage(c.FetchJWTBundles({}, md()))
    t.same(Object.keys(bundles.bundles), ['spiffe://example.org'])
    const jwks = JSON.parse(bundles.bundles['spiffe://example.org']!.toString('utf8'))
    t.ok(
      jwks.keys.every((k: Record<string, unknown>) => typeof k.kid === 'string' && k.use === undefined),
      'plain JWKS with kids',
    )
    const verified = await jwtVerify(token, createLocalJWKSet(jwks), { audience: 'spiffe://example.org/api' })
    t.equal(verified.payload.sub, 'spiffe://example.org/db')
    t.equal(verified.protectedHeader.typ, 'JWT')

    const wrong = await validateJwt(c, { audience: 'spiffe://example.org/else', svid: token })
    t.equal(wrong.err?.code, status.INVALID_ARGUMENT, 'wrong audience rejected')
    t.match(wrong.err?.details, /audience/)
    const garbage = await validateJwt(c, { audience: 'a', svid: 'not.a.token' })
    t.equal(garbage.err?.code, status.INVALID_ARGUMENT)
    const tampered = `${token.slice(0, -4)}AAAA`
    const bad = await validateJwt(c, { audience: 'spiffe://example.org/api', svid: tampered })
    t.equal(bad.err?.code, status.INVALID_ARGUMENT, 'bad signature rejected')
  },
)

t.test('FetchJWTSVID and ValidateJWTSVID input errors and unavailability', async (t) => {
  const h = await startHarness(t, {
    entries: ({ uid }) => [entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`] })],
  })
  const c = h.client()
  const cases: [string, { audience?: string[]; spiffe_id?: string }, number][] = [
    ['empty audience', { audience: [] }, status.INVALID_ARGUMENT],
    ['empty audience value', { audience: [''] }, status.INVALID_ARGUMENT],
    [
      'malformed spiffe_id',
      { audience: ['a'], spiffe_id: 'https://example.org/web' },
      status.INVALID_ARGUMENT,
    ],
    ['not entitled', { audience: ['a'], spiffe_id: 'spiffe://example.org/db' }, status.PERMISSION_DENIED],
  ]
  for (const [name, req, code] of cases) {
    const r = await fetchJwt(c, req)
    t.equal(r.err?.code, code, name)
  }
  for (const req of [
    { audience: '', svid: 'x.y.z' },
    { audience: 'a', svid: '' },
  ]) {
    const r = await validateJwt(c, req)
    t.equal(r.err?.code, status.INVALID_ARGUMENT)
  }
  h.server.issuer.down = true
  const down = await fetchJwt(c, { audience: ['fresh'] })
  t.equal(down.err?.code, status.UNAVAILABLE, 'server unreachable and nothing cached')
  h.server.issuer.down = false
  const ok = await fetchJwt(c, { audience: ['fresh'] })
  t.equal(ok.res?.svids.length, 1)
  h.server.issuer.down = true
  const cached = await fetchJwt(c, { audience: ['fresh'] })
  t.equal(cached.res?.svids[0]?.svid, ok.res?.svids[0]?.svid, 'cached token served while the server is down')
})

t.test('ValidateJWTSVID refuses a JWT-SVID whose jti is revoked, with INVALID_ARGUMENT', async (t) => {
  const revocations = new RevocationSet()
  const h = await startHarness(t, {
    entries: ({ uid }) => [entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`] })],
    server: { revocations },
  })
  const c = h.client()
  const token = (await fetchJwt(c, { audience: ['api'] })).res!.svids[0]!.svid
  t.equal((await validateJwt(c, { audience: 'api', svid: token })).res?.spiffe_id, 'spiffe://example.org/web')
  const jti = decodeJwt(token).jti as string
  revocations.apply({
    snapshot: false,
    sequence: 1,
    revoked: [{ kind: 'jwt_jti', value: jti, expiresAtMs: Date.now() + 600_000 }],
  })
  const refused = await validateJwt(c, { audience: 'api', svid: token })
  t.equal(refused.err?.code, status.INVALID_ARGUMENT)
  t.equal(refused.err?.details, `the JWT-SVID has been revoked (jti ${jti})`)
  const fresh = (await fetchJwt(c, { audience: ['other'] })).res!.svids[0]!.svid
  t.ok(
    (await validateJwt(c, { audience: 'other', svid: fresh })).res,
    'another token of the same ID still validates',
  )
})
