// The bundle endpoint client (SPIFFE.md §4.2): a BundleSource follows a document that changes
// (a rotated JWT key, a higher sequence, a 1 s refresh hint) on a small https_web server made
// here with a test CA from openssl; keeps its bundle through failures and rollbacks; and fetches
// from the real sigil-server's bundle endpoint in both profiles.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { decodePemBundle } from '../../certs/bundle/pem-bundle.js'
import { encodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { SigilError } from '../../certs/errors.js'
import { JwtSvidSigner } from '../../certs/jwtsvid/jwt-svid-signer.js'
import { validateJwtSvid } from '../../certs/jwtsvid/validate-jwt-svid.js'
import { generateKeyPair } from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { fetchSpiffeBundle } from '../../sdk/bundle-endpoint-client.js'
import { BundleSource } from '../../sdk/bundle-source.js'
import { shortTempDir, startServerProcess } from '../helpers/server-process.js'
import { createTestCa } from '../helpers/testca.js'
import { waitUntil } from '../helpers/wait-until.js'
import { makeWebPki } from '../helpers/web-pki.js'

const td = TrustDomain.parse('other.org')
const web = SpiffeId.parse('spiffe://other.org/web')

t.test('a BundleSource picks up a rotated JWT key by the refresh hint', async (t) => {
  const pki = makeWebPki(t.testdir())
  const x509 = await createTestCa({ trustDomain: 'other.org' })
  const k1 = await generateKeyPair('ec-p256')
  const k2 = await generateKeyPair('ec-p256')
  const doc = (seq: number, kid: string, publicKey: typeof k1.publicKey) =>
    encodeSpiffeBundle(
      TrustBundle.create({
        trustDomain: td,
        x509Authorities: [x509.rootDer],
        jwtAuthorities: [{ kid, publicKey }],
        sequenceNumber: seq,
        refreshHintSeconds: 1,
      }),
    )
  let answer: { status: number; body: string } = { status: 200, body: doc(1, 'k1', k1.publicKey) }
  let hits = 0
  const server = createServer({ key: pki.key, cert: pki.cert }, (_req, res) => {
    hits++
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`

  const errors: SigilError[] = []
  const source = await BundleSource.create({
    url,
    trustDomain: 'other.org',
    profile: { type: 'https_web', ca: pki.ca },
    onError: (e) => errors.push(e),
  })
  t.teardown(() => source.close())
  t.equal(source.getBundle().sequenceNumber, 1)
  t.ok(source.getBundle().findJwtAuthority('k1'))

  const signer2 = new JwtSvidSigner({ privateKey: k2.privateKey, kid: 'k2' })
  const { token } = await signer2.sign({ spiffeId: web, audience: ['tool-api'], ttlSeconds: 60 })
  const bundleFor = (d: TrustDomain) => source.getBundleForTrustDomain(d)
  await t.rejects(validateJwtSvid(token, { audience: 'tool-api', bundleFor }), {
    code: 'ERR_JWT_KID_UNKNOWN',
  })

  // A failing endpoint: the source keeps its bundle and tries again at the next interval.
  answer = { status: 500, body: 'oops' }
  const hitsBefore = hits
  await waitUntil('the failing fetch to be reported', () => errors.length > 0, { intervalMs: 100 })
  t.equal(errors[0]?.code, 'ERR_UNAVAILABLE', 'the failure is reported')
  t.equal(source.getBundle().sequenceNumber, 1, 'the bundle is kept')
  t.ok(hits > hitsBefore)

  // The key rotates: a new document with a higher sequence.
  const updated = new Promise<TrustBundle>((resolve) => source.onUpdate(resolve))
  answer = { status: 200, body: doc(2, 'k2', k2.publicKey) }
  const bundle = await updated
  t.equal(bundle.sequenceNumber, 2)
  const { spiffeId } = await validateJwtSvid(token, { audience: 'tool-api', bundleFor })
  t.equal(spiffeId.toString(), web.toString(), 'a token signed by the new key validates')

  // A replayed older document does not roll the key back.
  answer = { status: 200, body: doc(1, 'k1', k1.publicKey) }
  const hitsAtRollback = hits
  await waitUntil('two fetches of the older document', () => hits >= hitsAtRollback + 2, { intervalMs: 100 })
  t.equal(source.getBundle().sequenceNumber, 2, 'a lower sequence is ignored')
  t.ok(source.getBundle().findJwtAuthority('k2'))

  // https_web checks the host name and the CA.
  const localhostUrl = url.replace('127.0.0.1', 'localhost')
  t.ok(
    await fetchSpiffeBundle({
      url: localhostUrl,
      trustDomain: td,
      profile: { type: 'https_web', ca: pki.ca },
    }),
  )
  await t.rejects(
    fetchSpiffeBundle({ url, trustDomain: td, profile: { type: 'https_web' } }),
    { code: 'ERR_UNAVAILABLE' },
    'not trusted by the system roots',
  )
})

t.test('fetches from the real sigil-server bundle endpoint, https_web and https_spiffe', async (t) => {
  const dir = shortTempDir(t)
  const webServer = await startServerProcess(join(dir, 'web'))
  t.teardown(() => webServer.stop())
  const pem = (await webServer.cli('bundle', 'show', '--format', 'pem')).stdout
  const url = webServer.bundleEndpointUrl.replace('127.0.0.1', 'localhost')
  const bundle = await fetchSpiffeBundle({
    url,
    trustDomain: 'example.org',
    profile: { type: 'https_web', ca: readFileSync(join(dir, 'web', 'bundle-endpoint', 'dev-ca.pem')) },
  })
  const shown = decodePemBundle(TrustDomain.parse('example.org'), pem)
  t.same(bundle.x509Authorities, shown.x509Authorities, 'the X.509 authorities match `bundle show`')
  const minted = await webServer.cli(
    'jwt',
    'mint',
    '--spiffe-id',
    'spiffe://example.org/job',
    '--audience',
    'db',
  )
  const { spiffeId } = await validateJwtSvid(minted.stdout.trim(), {
    audience: 'db',
    bundleFor: () => bundle,
  })
  t.equal(spiffeId.toString(), 'spiffe://example.org/job', 'its JWT keys validate a minted token')

  const spiffeServer = await startServerProcess(join(dir, 'spiffe'), [
    '--bundle-endpoint-profile',
    'https_spiffe',
  ])
  t.teardown(() => spiffeServer.stop())
  const bootstrap = decodePemBundle(
    TrustDomain.parse('example.org'),
    (await spiffeServer.cli('bundle', 'show', '--format', 'pem')).stdout,
  )
  const source = await BundleSource.create({
    url: spiffeServer.bundleEndpointUrl,
    trustDomain: 'example.org',
    profile: {
      type: 'https_spiffe',
      endpointSpiffeId: 'spiffe://example.org/sigil/server',
      endpointBundle: bootstrap,
    },
  })
  t.teardown(() => source.close())
  t.same(source.getBundle().x509Authorities, bootstrap.x509Authorities)
  t.ok(source.getBundle().jwtAuthorities.length > 0)
  t.ok(await source.refresh(), 'a refresh authenticates the endpoint with the fetched bundle')
  await t.rejects(
    fetchSpiffeBundle({
      url: spiffeServer.bundleEndpointUrl,
      trustDomain: 'example.org',
      profile: {
        type: 'https_spiffe',
        endpointSpiffeId: 'spiffe://example.org/not-the-server',
        endpointBundle: bootstrap,
      },
    }),
    { code: 'ERR_NOT_AUTHORIZED' },
    'an endpoint with another SPIFFE ID is refused',
  )
  const stranger = await createTestCa()
  await t.rejects(
    fetchSpiffeBundle({
      url: spiffeServer.bundleEndpointUrl,
      trustDomain: 'example.org',
      profile: {
        type: 'https_spiffe',
        endpointSpiffeId: 'spiffe://example.org/sigil/server',
        endpointBundle: TrustBundle.create({
          trustDomain: TrustDomain.parse('example.org'),
          x509Authorities: [stranger.rootDer],
        }),
      },
    }),
    'an endpoint not trusted by the bootstrap bundle is refused',
  )
})
