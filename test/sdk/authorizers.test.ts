// Authorizers allow or refuse verified SPIFFE IDs; refusals are ERR_NOT_AUTHORIZED naming both sides.
import t from 'tap'
import { SigilError } from '../../certs/errors.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import {
  authorizeAny,
  authorizeId,
  authorizeIf,
  authorizeMemberOf,
  authorizeOneOf,
} from '../../sdk/authorizers.js'

const web = SpiffeId.parse('spiffe://example.org/web')
const db = SpiffeId.parse('spiffe://example.org/db')
const foreign = SpiffeId.parse('spiffe://other.org/web')

function refusal(fn: () => void): SigilError {
  try {
    fn()
  } catch (e) {
    if (e instanceof SigilError) return e
    throw e
  }
  throw new Error('expected a refusal')
}

t.test('authorizeAny allows every verified ID', async (t) => {
  t.doesNotThrow(() => authorizeAny()(foreign, []))
})

t.test('authorizeId allows exactly one ID and names both on refusal', async (t) => {
  const authz = authorizeId('spiffe://example.org/web')
  t.doesNotThrow(() => authz(web, []))
  const err = refusal(() => authz(db, []))
  t.equal(err.code, 'ERR_NOT_AUTHORIZED')
  t.match(err.message, 'spiffe://example.org/db')
  t.match(err.message, 'spiffe://example.org/web')
  t.throws(() => authz(foreign, []), { code: 'ERR_NOT_AUTHORIZED' }, 'same path, other trust domain')
  t.throws(() => authorizeId('not an id'), { code: 'ERR_SPIFFE_ID_INVALID' })
})

t.test('authorizeOneOf allows any of a set', async (t) => {
  const authz = authorizeOneOf([web, 'spiffe://example.org/db'])
  t.doesNotThrow(() => authz(web, []))
  t.doesNotThrow(() => authz(db, []))
  const err = refusal(() => authz(foreign, []))
  t.equal(err.code, 'ERR_NOT_AUTHORIZED')
  t.match(err.message, /one of "spiffe:\/\/example\.org\/web", "spiffe:\/\/example\.org\/db"/)
  t.throws(() => authorizeOneOf([]), TypeError)
})

t.test('authorizeMemberOf allows one trust domain', async (t) => {
  const authz = authorizeMemberOf('example.org')
  t.doesNotThrow(() => authz(web, []))
  const err = refusal(() => authorizeMemberOf(TrustDomain.parse('example.org'))(foreign, []))
  t.equal(err.code, 'ERR_NOT_AUTHORIZED')
  t.match(err.message, 'spiffe://other.org/web')
  t.match(err.message, 'example.org')
})

t.test('authorizeIf applies a predicate and its description', async (t) => {
  const authz = authorizeIf((id, chain) => id.path === '/web' && chain.length === 0, 'a web workload')
  t.doesNotThrow(() => authz(web, []))
  t.doesNotThrow(() => authz(foreign, []))
  const err = refusal(() => authz(db, []))
  t.equal(err.code, 'ERR_NOT_AUTHORIZED')
  t.match(err.message, 'a web workload')
  t.throws(
    () => authorizeIf((() => 'yes') as never)(web, []),
    { code: 'ERR_NOT_AUTHORIZED' },
    'only true allows',
  )
})
