import t from 'tap'
import { decodeBundleMap, encodeBundleMap } from '../../../certs/bundle/bundle-map.js'
import { encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { keyPair, makeCa, sigilCode } from './fixtures.js'

const INVALID = sigilCode('ERR_BUNDLE_INVALID')
const ours = TrustBundle.create({
  trustDomain: TrustDomain.parse('example.org'),
  x509Authorities: [makeCa('ec-p256').der],
  jwtAuthorities: [{ kid: 'a', publicKey: keyPair('ec-p256').publicKey }],
  sequenceNumber: 3,
  refreshHintSeconds: 300,
})
const partner = TrustBundle.create({
  trustDomain: TrustDomain.parse('partner.org'),
  x509Authorities: [makeCa('rsa-2048').der],
  sequenceNumber: 1,
})

t.test('encode: bare trust-domain names, sorted, no refresh hints', async (t) => {
  const doc = JSON.parse(encodeBundleMap([partner, ours]))
  t.same(Object.keys(doc), ['trust_domains'])
  t.same(Object.keys(doc.trust_domains), ['example.org', 'partner.org'])
  t.notOk('spiffe_refresh_hint' in doc.trust_domains['example.org'])
  t.equal(doc.trust_domains['example.org'].spiffe_sequence, 3)
  t.throws(() => encodeBundleMap([ours, ours]), TypeError, 'a trust domain twice is a caller bug')
})

t.test('decode(encode(m)) round-trips (minus refresh hints)', async (t) => {
  const m = decodeBundleMap(encodeBundleMap([ours, partner]))
  t.same([...m.keys()], ['example.org', 'partner.org'])
  t.ok(m.get('example.org')?.equals(ours.withRefreshHint(undefined)))
  t.ok(m.get('partner.org')?.equals(partner))
  t.equal(m.get('example.org')?.trustDomain.name, 'example.org')
  t.equal(decodeBundleMap('{"trust_domains":{}}').size, 0)
})

t.test('a trust domain named __proto__ is just a name', async (t) => {
  const odd = TrustBundle.create({ trustDomain: TrustDomain.parse('__proto__'), sequenceNumber: 5 })
  const json = encodeBundleMap([odd])
  t.match(json, /"__proto__":\{/)
  t.equal(decodeBundleMap(json).get('__proto__')?.sequenceNumber, 5)
})

t.test('bad maps are ERR_BUNDLE_INVALID', async (t) => {
  const b = encodeSpiffeBundle(partner)
  const bad: [string, string][] = [
    ['trust_domains missing', '{}'],
    ['trust_domains an array', '{"trust_domains":[]}'],
    ['spiffe:// key', `{"trust_domains":{"spiffe://partner.org":${b}}}`],
    ['uppercase key', `{"trust_domains":{"Partner.org":${b}}}`],
    ['empty key', `{"trust_domains":{"":${b}}}`],
    ['key with a port', `{"trust_domains":{"partner.org:443":${b}}}`],
    ['duplicate key', `{"trust_domains":{"partner.org":${b},"partner.org":{"keys":[]}}}`],
    ['bundle without keys', '{"trust_domains":{"partner.org":{}}}'],
    ['bundle not an object', '{"trust_domains":{"partner.org":"x"}}'],
    ['not JSON', '{"trust_domains":'],
  ]
  for (const [name, json] of bad) t.throws(() => decodeBundleMap(json), INVALID, name)
})
