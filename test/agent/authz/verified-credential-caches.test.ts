// The verified-credential memos of Authorize (JWT-SVID and X509-SVID chain):
// a hit only for the same credential and bundle object (and audiences for a JWT-SVID), only while
// the credential is still valid at now; bounded, the oldest entry goes first.
import t from 'tap'
import { MAX_CACHED_JWT_SVIDS, VerifiedJwtCache } from '../../../agent/authz/verified-jwt-cache.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import type { ValidatedJwtSvid } from '../../../certs/jwtsvid/validate-jwt-svid.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'

const TD = TrustDomain.parse('example.org')
const NOW = new Date('2030-01-01T00:00:00Z')
const s = Math.floor(NOW.getTime() / 1000)
const bundle = TrustBundle.create({ trustDomain: TD })
const other = TrustBundle.create({ trustDomain: TD })
const AUD = ['spiffe://example.org/tool']

function verified(claims: Record<string, unknown>): ValidatedJwtSvid {
  return {
    spiffeId: SpiffeId.parse('spiffe://example.org/worker'),
    claims,
    expiresAt: new Date((claims.exp as number) * 1000),
    audience: AUD,
  }
}

t.test('a hit needs the same token, bundle object and audiences, and a token still valid now', async (t) => {
  const c = new VerifiedJwtCache()
  const v = verified({ exp: s + 60, iat: s - 1 })
  c.set('tok', AUD, bundle, v)
  t.equal(c.get('tok', AUD, bundle, NOW, 0), v)
  t.equal(c.get('tok2', AUD, bundle, NOW, 0), undefined, 'another token')
  t.equal(c.get('tok', ['spiffe://example.org/x'], bundle, NOW, 0), undefined, 'other audiences')
  c.set('tok', AUD, bundle, v)
  t.equal(c.get('tok', AUD, other, NOW, 0), undefined, 'a new bundle object (authorities changed)')
  c.set('tok', AUD, bundle, v)
  t.equal(c.get('tok', AUD, bundle, new Date((s + 61) * 1000), 0), undefined, 'expired')
  c.set('tok', AUD, bundle, v)
  t.equal(c.get('tok', AUD, bundle, new Date((s + 61) * 1000), 5), v, 'inside the leeway')
  c.set('nbf', AUD, bundle, verified({ exp: s + 60, nbf: s + 30 }))
  t.equal(c.get('nbf', AUD, bundle, NOW, 0), undefined, 'not yet valid')
})

t.test('bounded: the oldest token is dropped', async (t) => {
  const c = new VerifiedJwtCache()
  const v = verified({ exp: s + 60 })
  for (let i = 0; i <= MAX_CACHED_JWT_SVIDS; i++) c.set(`t${i}`, AUD, bundle, v)
  t.equal(c.get('t0', AUD, bundle, NOW, 0), undefined)
  t.equal(c.get(`t${MAX_CACHED_JWT_SVIDS}`, AUD, bundle, NOW, 0), v)
})

t.test(
  'X509 memo: a hit needs the same chain and bundle object, and every path certificate valid now',
  async (t) => {
    const { createTestCa } = await import('../../helpers/testca.js')
    const { verifyX509Svid } = await import('../../../certs/x509svid/verify-x509-svid.js')
    const { chainKey, VerifiedX509Cache } = await import('../../../agent/authz/verified-x509-cache.js')
    const ca = await createTestCa({ withIntermediate: true })
    const svid = await ca.mintSvid('/worker', { ttlSeconds: 600 })
    const now = new Date()
    const result = verifyX509Svid(svid.chainDer, ca.authoritiesFor, { now })
    const c = new VerifiedX509Cache()
    const key = chainKey(svid.chainDer)
    const stored = c.set(key, bundle, result)
    t.equal(stored.serialHex.replace(/^0+/, ''), svid.serialHex.replace(/^0+/, ''), "the leaf's serial")
    t.equal(c.get(key, bundle, now)?.result, result)
    t.equal(c.get(chainKey([svid.chainDer[0] as Buffer]), bundle, now), undefined, 'another chain')
    t.equal(c.get(key, other, now), undefined, 'a new bundle object')
    c.set(key, bundle, result)
    t.equal(c.get(key, bundle, new Date(now.getTime() + 601_000)), undefined, 'the leaf has expired')
  },
)
