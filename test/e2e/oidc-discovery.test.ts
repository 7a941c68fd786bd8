// OIDC discovery the way a cloud relying party uses it: read the issuer's
// /.well-known/openid-configuration over HTTPS, fetch jwks_uri with jose's createRemoteJWKSet,
// and verify a JWT-SVID minted by `sigil-server jwt mint` with issuer and audience.
// Real server process, real TLS (the development CA).
import { readFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose'
import t from 'tap'
import { freePort } from '../helpers/agent-process.js'
import { fetchTrusting } from '../helpers/ca-fetch.js'
import { shortTempDir, startServerProcess } from '../helpers/server-process.js'
import { httpsRequest } from '../server/cli/https-get.js'

const WEB = 'spiffe://example.org/web'
const AUDIENCE = 'sts.amazonaws.com'

t.test('a relying party discovers the issuer, fetches jwks_uri and verifies a minted JWT-SVID', async (t) => {
  const dir = shortTempDir(t)
  const [bundlePort, discoveryPort] = [await freePort(), await freePort()]
  const issuer = `https://localhost:${discoveryPort}`
  const server = await startServerProcess(dir, [
    '--bundle-endpoint-address',
    `127.0.0.1:${bundlePort}`,
    '--oidc-discovery-address',
    `127.0.0.1:${discoveryPort}`,
    '--jwt-issuer',
    issuer,
  ])
  t.teardown(() => server.stop())
  const ca = await readFile(join(dir, 'bundle-endpoint', 'dev-ca.pem'))
  const fetchWithCa = fetchTrusting(ca)

  // the relying party is given only the issuer URL
  const res = await fetchWithCa(`${issuer}/.well-known/openid-configuration`)
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'application/json')
  const discovered = (await res.json()) as Record<string, unknown>
  t.same(discovered, {
    issuer,
    jwks_uri: `${issuer}/keys`,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
  })

  const minted = await server.cli('jwt', 'mint', '--spiffe-id', WEB, '--audience', AUDIENCE)
  t.equal(minted.code, 0, minted.stderr)
  const token = minted.stdout.trim()

  const jwks = createRemoteJWKSet(new URL(String(discovered.jwks_uri)), { [customFetch]: fetchWithCa })
  const { payload } = await jwtVerify(token, jwks, { issuer, audience: AUDIENCE })
  t.equal(payload.sub, WEB)
  t.equal(payload.iss, issuer, 'the JWT-SVID carries iss = --jwt-issuer')

  await t.rejects(
    jwtVerify(token, jwks, { issuer: 'https://other.example', audience: AUDIENCE }),
    { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' },
    'another issuer is refused',
  )

  // the bundle endpoint's listener serves the same document
  const onBundle = await httpsRequest(`https://127.0.0.1:${bundlePort}/.well-known/openid-configuration`, {
    ca,
    servername: 'localhost',
  })
  t.equal(onBundle.status, 200)
  t.same(JSON.parse(onBundle.body), discovered, 'the same document on the bundle endpoint')
})

t.test('/keys holds every JWT authority of the bundle as use "sig", and no other key', async (t) => {
  const dir = shortTempDir(t)
  const server = await startServerProcess(dir, [
    '--jwt-issuer',
    'https://localhost',
    '--jwt-key-type',
    'ec-p384',
  ])
  t.teardown(() => server.stop())
  const ca = await readFile(join(dir, 'bundle-endpoint', 'dev-ca.pem'))
  const base = server.bundleEndpointUrl.replace(/\/$/, '')
  const get = (path: string) => httpsRequest(`${base}${path}`, { ca, servername: 'localhost' })

  const bundle = JSON.parse((await get('/')).body) as { keys: Record<string, unknown>[] }
  const keys = JSON.parse((await get('/keys')).body) as { keys: Record<string, unknown>[] }
  const jwtKids = bundle.keys.filter((k) => k.use === 'jwt-svid').map((k) => k.kid)
  t.ok(jwtKids.length >= 1, 'the bundle has a JWT authority')
  t.ok(
    bundle.keys.some((k) => k.use !== 'jwt-svid'),
    'and other keys (x509-svid)',
  )
  t.same(keys.keys.map((k) => k.kid).sort(), [...jwtKids].sort(), '/keys = the bundle jwt-svid keys')
  const witKids = bundle.keys.filter((k) => k.use === 'wit-svid').map((k) => k.kid)
  t.ok(witKids.length >= 1, 'the bundle has a WIT authority')
  t.notOk(
    keys.keys.some((k) => witKids.includes(k.kid)),
    'no WIT key in /keys: a WIT-SVID must never pass for an OIDC ID token',
  )
  for (const k of keys.keys) {
    t.equal(k.use, 'sig')
    t.equal(k.alg, 'ES384')
    t.equal(k.crv, 'P-384')
    t.notOk('x5c' in k || 'd' in k, 'public JWT key only')
    const inBundle = bundle.keys.find((b) => b.kid === k.kid)
    t.same({ x: k.x, y: k.y }, { x: inBundle?.x, y: inBundle?.y }, 'the same public key as the bundle')
  }
  const doc = JSON.parse((await get('/.well-known/openid-configuration')).body)
  t.same(doc.id_token_signing_alg_values_supported, ['ES384'])
  t.equal(doc.jwks_uri, 'https://localhost/keys')
})

t.test('without --jwt-issuer discovery answers 404 "not configured"; plain HTTP on loopback', async (t) => {
  const dir = shortTempDir(t)
  const server = await startServerProcess(dir, [
    '--oidc-discovery-address',
    '127.0.0.1:0',
    '--oidc-discovery-plain-http',
  ])
  t.teardown(() => server.stop())
  const started = server.logs.find((l) => l.msg === 'sigil-server started')
  const url = String(started?.oidc_discovery)
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
  for (const path of ['.well-known/openid-configuration', 'keys']) {
    const r = await plainGet(`${url}${path}`)
    t.equal(r.status, 404, path)
    t.equal(r.body, '404 OIDC discovery is not configured (start the server with --jwt-issuer)\n')
  }
  t.equal((await plainGet(`${url}crl`)).status, 404, 'nothing but discovery on its own listener')
})

t.test('plain HTTP off loopback and a non-https issuer are refused at start-up (exit 2)', async (t) => {
  const dir = shortTempDir(t)
  for (const args of [
    ['--oidc-discovery-address', '0.0.0.0:0', '--oidc-discovery-plain-http'],
    ['--jwt-issuer', 'http://oidc.example.org'],
    ['--jwt-issuer', 'https://oidc.example.org/?x=1'],
    ['--oidc-discovery-domain', 'https://oidc.example.org'],
  ]) {
    await t.rejects(startServerProcess(dir, args), /exited with 2/, args.join(' '))
  }
})

function plainGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
    })
      .on('error', reject)
      .end()
  })
}
