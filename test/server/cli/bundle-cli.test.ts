import t from 'tap'
import { decodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { type AdminFixture, startAdminFixture, TD } from './admin-test-kit.js'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

t.test('bundle show prints the X.509 roots as PEM by default', async (t) => {
  const expected = certificatesToPem([...f.ca.currentBundle().x509Authorities])
  for (const argv of [
    ['bundle', 'show'],
    ['bundle', 'show', '--format', 'pem'],
  ]) {
    const r = await f.cli(argv)
    t.equal(r.code, 0, r.stderr)
    t.equal(r.stdout, expected, argv.join(' '))
  }
  const json = JSON.parse((await f.cli(['bundle', 'show', '--output', 'json'])).stdout)
  t.same(json, {
    trust_domain: 'example.org',
    sequence_number: f.ca.currentBundle().sequenceNumber,
    pem: expected,
  })
})

t.test('bundle show --format spiffe prints the JWKS', async (t) => {
  const r = await f.cli(['bundle', 'show', '--format', 'spiffe'])
  t.equal(r.code, 0, r.stderr)
  const bundle = decodeSpiffeBundle(TD, r.stdout)
  const current = f.ca.currentBundle()
  t.same(bundle.x509Authorities, current.x509Authorities)
  t.same(
    bundle.jwtAuthorities.map((a) => a.kid),
    current.jwtAuthorities.map((a) => a.kid),
  )
  const doc = JSON.parse(r.stdout)
  t.equal(doc.spiffe_sequence, current.sequenceNumber)
  t.equal(doc.spiffe_refresh_hint, 300)
  t.same(doc.keys.map((k: { use: string }) => k.use).sort(), ['jwt-svid', 'wit-svid', 'x509-svid'])
  const json = JSON.parse((await f.cli(['bundle', 'show', '--format', 'spiffe', '--output', 'json'])).stdout)
  t.match(json, { trust_domain: 'example.org', sequence_number: current.sequenceNumber })
  t.same(json.bundle, doc)
})

t.test('bundle show refuses an unknown format', async (t) => {
  const r = await f.cli(['bundle', 'show', '--format', 'der'])
  t.equal(r.code, 2)
  t.equal(r.stdout, '')
  t.match(r.stderr, /^sigil-server bundle show: Invalid value provided for --format/)
  t.equal(r.stderr.split('\n').length, 2)
})
