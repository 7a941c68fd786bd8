// OIDC discovery documents and the Host allow-list, as pure functions (the served endpoints are
// tested against the real server in test/e2e/oidc-discovery.test.ts and
// test/security/oidc-discovery-host.test.ts).
import t from 'tap'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import {
  hostAllowed,
  hostNameOf,
  jwksUriFor,
  oidcConfiguration,
  oidcKeys,
} from '../../../server/endpoints/oidc-discovery.js'

t.test(
  'every JWT authority is a key (use sig, alg by key type); the algorithms are listed once',
  async (t) => {
    const [p256a, p256b, rsa] = await Promise.all([
      generateKeyPair('ec-p256'),
      generateKeyPair('ec-p256'),
      generateKeyPair('rsa-2048'),
    ])
    const bundle = TrustBundle.create({
      trustDomain: TrustDomain.parse('example.org'),
      jwtAuthorities: [
        { kid: 'active', publicKey: p256a.publicKey },
        { kid: 'prepared', publicKey: p256b.publicKey },
        { kid: 'retired', publicKey: rsa.publicKey },
      ],
    })
    const { keys } = oidcKeys(bundle)
    t.same(
      keys.map((k) => [k.kid, k.use, k.alg, k.kty]),
      [
        ['active', 'sig', 'ES256', 'EC'],
        ['prepared', 'sig', 'ES256', 'EC'],
        ['retired', 'sig', 'RS256', 'RSA'],
      ],
    )
    t.notOk(
      keys.some((k) => 'd' in k),
      'public members only',
    )
    const doc = oidcConfiguration('https://oidc.example.org/', undefined, bundle)
    t.same(doc, {
      issuer: 'https://oidc.example.org/',
      jwks_uri: 'https://oidc.example.org/keys',
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256', 'RS256'],
    })
    t.equal(jwksUriFor('https://h/x', 'https://cdn/keys'), 'https://cdn/keys', 'a configured jwks_uri wins')
  },
)

t.test(
  'Host: port, brackets, case and one trailing dot are normalised; anything odd is no name',
  async (t) => {
    t.equal(hostNameOf('OIDC.Example.org:443'), 'oidc.example.org')
    t.equal(hostNameOf('oidc.example.org.'), 'oidc.example.org')
    t.equal(hostNameOf('[::1]:8443'), '::1')
    for (const bad of [
      undefined,
      '',
      'a@b',
      'a:b',
      'a:99999999',
      '[::1',
      '[::1]x',
      '[nope]',
      'a b',
      `${'a'.repeat(301)}`,
    ]) {
      t.equal(hostNameOf(bad), undefined, JSON.stringify(bad))
    }
    const domains = ['oidc.example.org']
    for (const ok of [
      'localhost',
      '127.0.0.1:80',
      '127.1.2.3',
      '[::1]',
      'oidc.example.org',
      'OIDC.example.org.:1',
    ]) {
      t.ok(hostAllowed(ok, domains), ok)
    }
    for (const no of [
      'evil.example',
      'oidc.example.org.evil.example',
      'x.oidc.example.org',
      '10.0.0.1',
      '0.0.0.0',
      undefined,
    ]) {
      t.notOk(hostAllowed(no, domains), String(no))
    }
  },
)
