// The verified-JWT-SVID memo of Authorize: a hit only for the same token, bundle object and
// audiences, and only while exp/nbf/iat still pass; the oldest entry goes past the bound.
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
