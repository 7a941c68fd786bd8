// `federation create|update|list|show|delete|refresh` and `bundle list|set|delete|count` in-process
// against a real admin API (SQLite, real CA; no refresher, so nothing is fetched): pretty and
// JSON output, SPIRE's flag spellings, usage errors (exit 2), unknown domains (exit 2), and the
// refresh refused when the server does not refresh (exit 1).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { decodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { federationCreateArgs, spiffeBundleDoc } from '../../helpers/federation-fixtures.js'
import { createTestCa } from '../../helpers/testca.js'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

const other = await createTestCa({ trustDomain: 'other.org' })

t.test('federation create, show, list, update and delete', async (t) => {
  const pem = join(f.dir, 'other.pem')
  writeFileSync(pem, certificatesToPem([other.rootDer]))
  const created = await f.cli([
    'federation',
    'create',
    '-trustDomain',
    'other.org',
    '-bundleEndpointURL',
    'https://bundle.other.org/',
    '-bundleEndpointProfile',
    'https_spiffe',
    '-endpointSpiffeID',
    'spiffe://other.org/sigil/server',
    '-trustDomainBundlePath',
    pem,
  ])
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /^Federation relationship created \(first fetch: not made\)/)
  t.match(created.stdout, /Trust domain\s+: other\.org/)
  t.match(created.stdout, /Endpoint SPIFFE ID\s+: spiffe:\/\/other\.org\/sigil\/server/)
  t.match(created.stdout, /Last refresh\s+: -/)

  const shown = JSON.parse(
    (await f.cli(['federation', 'show', '--trust-domain', 'spiffe://other.org', '--output', 'json'])).stdout,
  )
  t.match(shown.relationship, {
    trust_domain: 'other.org',
    bundle_endpoint_url: 'https://bundle.other.org/',
    bundle_endpoint_profile: 'https_spiffe',
    bundle_sequence_number: 0,
    last_error: '',
  })
  t.same(
    (await f.cli(['bundle', 'list', '--id', 'spiffe://other.org'])).stdout,
    `spiffe://other.org\n${certificatesToPem([other.rootDer])}`,
    'the bootstrap bundle is stored',
  )

  const updated = await f.cli([
    'federation',
    'update',
    '--trust-domain',
    'other.org',
    '--bundle-endpoint-url',
    'https://moved.other.org/',
    '--bundle-endpoint-profile',
    'https_web',
  ])
  t.equal(updated.code, 0, updated.stderr)
  t.match(updated.stdout, /Bundle endpoint URL\s+: https:\/\/moved\.other\.org\//)
  t.notMatch(updated.stdout, /Endpoint SPIFFE ID/, 'https_web has no endpoint ID')
  const listed = await f.cli(['federation', 'list'])
  t.match(listed.stdout, /^Found 1 federation relationship\n/)

  const refresh = await f.cli(['federation', 'refresh', '-id', 'spiffe://other.org'])
  t.equal(refresh.code, 1, 'no refresher in this server: UNAVAILABLE')
  t.match(refresh.stderr, /does not refresh/)

  t.equal((await f.cli(['federation', 'delete', '--trust-domain', 'other.org'])).code, 0)
  const gone = await f.cli(['federation', 'show', '--trust-domain', 'other.org'])
  t.equal(gone.code, 2)
  t.match(gone.stderr, /no federation relationship with other\.org/)
  t.equal(
    (await f.cli(['bundle', 'count'])).stdout,
    '1 federated bundle\n',
    'the bundle outlives the relationship',
  )
})

t.test('usage errors exit 2 before anything is sent', async (t) => {
  const cases: [string[], RegExp][] = [
    [
      [
        'federation',
        'create',
        '--bundle-endpoint-url',
        'https://x/',
        '--bundle-endpoint-profile',
        'https_web',
      ],
      /--trust-domain is required/,
    ],
    [
      federationCreateArgs('x.org', 'https://x/', 'https_web', '--endpoint-spiffe-id', 'spiffe://x.org/s'),
      /only for --bundle-endpoint-profile https_spiffe/,
    ],
    [federationCreateArgs('x.org', 'https://x/', 'ftp'), /ftp/],
    [['federation', 'show'], /--trust-domain is required/],
    [['bundle', 'set', '--path', '/dev/null'], /--id is required/],
    [['bundle', 'delete', '--id', 'spiffe://x.org', '--mode', 'delete'], /restrict/],
    [['federation', 'create', '-data', 'f.json'], /-data/],
  ]
  for (const [argv, why] of cases) {
    const r = await f.cli(argv)
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.stderr, why, argv.join(' '))
  }
})

t.test('bundle set, list, count and delete for foreign trust domains', async (t) => {
  const third = await createTestCa({ trustDomain: 'third.org' })
  const path = join(f.dir, 'third.json')
  writeFileSync(path, await spiffeBundleDoc(third, 7))
  const set = await f.cli([
    'bundle',
    'set',
    '--id',
    'spiffe://third.org',
    '--path',
    path,
    '--format',
    'spiffe',
  ])
  t.equal(set.code, 0, set.stderr)
  t.equal(set.stdout, 'Bundle set\n')
  const json = JSON.parse((await f.cli(['bundle', 'list', '--format', 'spiffe', '--output', 'json'])).stdout)
  t.same(
    json.bundles.map((b: { trust_domain: string }) => b.trust_domain),
    ['other.org', 'third.org'],
    'every federated bundle, never our own',
  )
  const listedThird = json.bundles[1] as { sequence_number: number; bundle: unknown }
  t.equal(listedThird.sequence_number, 7)
  t.same(
    decodeSpiffeBundle(TrustDomain.parse('third.org'), JSON.stringify(listedThird.bundle)).x509Authorities,
    [third.rootDer],
  )
  t.same(JSON.parse((await f.cli(['bundle', 'count', '--output', 'json'])).stdout), { count: 2 })
  t.equal((await f.cli(['bundle', 'delete', '--id', 'spiffe://third.org'])).stdout, 'Bundle deleted\n')
  const again = await f.cli(['bundle', 'delete', '--id', 'spiffe://third.org'])
  t.equal(again.code, 2)
  t.match(again.stderr, /no bundle for third\.org/)
  const none = await f.cli(['bundle', 'list', '--id', 'spiffe://third.org'])
  t.equal(none.code, 2)
})
