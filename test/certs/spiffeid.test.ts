import t from 'tap'
import { isSigilError } from '../../certs/errors.js'
import { parseWorkloadId, SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'

// The example table from shared/SPIFFE.md §1 (R = reject).
const valid = [
  'spiffe://example.org/ns/prod/sa/web',
  'spiffe://example.org',
  'spiffe://a_b-c.example.org/x.y_z-1/Foo',
  'spiffe://10.0.0.1/svc',
  'spiffe://example.org/a/...',
]
const invalid: [string, RegExp][] = [
  ['spiffe://example.org/', /must not end with/],
  ['spiffe://Example.org/svc', /lowercase/],
  ['SPIFFE://example.org/svc', /scheme/],
  ['spiffe://example.org//svc', /empty segment/],
  ['spiffe://example.org/a/../b', /dot segment/],
  ['spiffe://example.org/svc%20x', /percent/],
  ['spiffe://user@example.org/svc', /userinfo/],
  ['spiffe://example.org:8443/svc', /port/],
  ['spiffe:///svc', /empty/],
  ['spiffe://example.org/svc?x=1', /query/],
  ['spiffe://example.org/svc#f', /fragment/],
  ['https://example.org/svc', /scheme/],
  ['spiffe://[::1]/svc', /IPv6/],
  ['spiffe://example..org/svc', /empty DNS label/],
  ['spiffe://.example.org/svc', /empty DNS label/],
  ['spiffe://example.org./svc', /empty DNS label/],
  ['', /empty/],
  [`spiffe://example.org/${'a'.repeat(2048)}`, /longer than 2048/],
  ['spiffe://example.org/a b', /may contain only/],
  ['spiffe://exa$mple.org/a', /may contain only/],
]

t.test('valid IDs from the spec table round-trip', async (t) => {
  for (const s of valid) t.equal(SpiffeId.parse(s).toString(), s, s)
})

t.test('invalid IDs from the spec table are rejected with the rule named', async (t) => {
  for (const [s, why] of invalid) {
    t.throws(() => SpiffeId.parse(s), { code: 'ERR_SPIFFE_ID_INVALID', message: why }, s.slice(0, 60))
  }
})

t.test('parts and membership', async (t) => {
  const id = SpiffeId.parse('spiffe://example.org/ns/prod')
  t.equal(id.trustDomain.name, 'example.org')
  t.equal(id.path, '/ns/prod')
  t.ok(id.memberOf(TrustDomain.parse('example.org')))
  t.notOk(id.memberOf(TrustDomain.parse('other.org')))
  t.ok(SpiffeId.parse('spiffe://example.org').isTrustDomainId())
  t.equal(SpiffeId.fromPath(TrustDomain.parse('td'), '/a/b').toString(), 'spiffe://td/a/b')
  t.throws(() => SpiffeId.fromPath(TrustDomain.parse('td'), 'a'), { code: 'ERR_SPIFFE_ID_INVALID' })
  t.equal(SpiffeId.forTrustDomain(TrustDomain.parse('td')).toString(), 'spiffe://td')
})

t.test('an ID of exactly 2048 bytes is accepted', async (t) => {
  const prefix = 'spiffe://example.org/'
  const s = prefix + 'a'.repeat(2048 - prefix.length)
  t.equal(SpiffeId.parse(s).toString().length, 2048)
})

t.test('trust domains', async (t) => {
  t.equal(TrustDomain.parse('spiffe://example.org').name, 'example.org')
  t.equal(TrustDomain.parse('example.org').idString(), 'spiffe://example.org')
  t.throws(() => TrustDomain.parse('Example.org'), { code: 'ERR_TRUST_DOMAIN_INVALID' })
  t.throws(() => TrustDomain.parse('a'.repeat(256)), { code: 'ERR_TRUST_DOMAIN_INVALID', message: /255/ })
  t.throws(() => TrustDomain.parse(''), { code: 'ERR_TRUST_DOMAIN_INVALID' })
})

t.test('workload IDs need a path and the right trust domain', async (t) => {
  t.throws(() => parseWorkloadId('spiffe://example.org'), { code: 'ERR_SPIFFE_ID_INVALID', message: /path/ })
  const err = t.throws(() => parseWorkloadId('spiffe://other.org/x', TrustDomain.parse('example.org')))
  t.ok(isSigilError(err, 'ERR_TRUST_DOMAIN_MISMATCH'))
  t.equal(parseWorkloadId('spiffe://example.org/x', TrustDomain.parse('example.org')).path, '/x')
})
