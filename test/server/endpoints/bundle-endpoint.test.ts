import { spawnSync } from 'node:child_process'
import type { KeyObject } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { connect } from 'node:tls'
import t from 'tap'
import { decodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { pemToCertificates } from '../../../certs/x509svid/pem.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import type { CaManager } from '../../../server/ca/ca-manager.js'
import { devCertificateNames } from '../../../server/endpoints/bundle-dev-certificate.js'
import {
  type BundleEndpointConfig,
  type BundleEndpointIdentity,
  startBundleEndpoint,
} from '../../../server/endpoints/bundle-endpoint.js'
import { type AdminFixture, startAdminFixture, TD } from '../cli/admin-test-kit.js'
import { httpsRequest } from '../cli/https-get.js'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

const webConfig = (over: Partial<BundleEndpointConfig> = {}): BundleEndpointConfig => ({
  address: { host: '127.0.0.1', port: 0 },
  profile: 'https_web',
  dataDir: f.dir,
  bundle: () => f.ca.currentBundle(),
  logger: f.logger,
  ...over,
})

/** The server X509-SVID from the real CA; rotate() mints a new one and tells listeners. */
class TestIdentity implements BundleEndpointIdentity {
  #current: { chainDer: Buffer[]; privateKey: KeyObject; notAfter: Date } | undefined
  readonly #listeners: (() => void)[] = []
  constructor(private readonly ca: CaManager) {}
  async rotate(): Promise<string> {
    const keys = await generateKeyPair('ec-p256')
    const svid = this.ca.signX509Svid({
      spiffeId: SpiffeId.fromPath(TD, '/sigil/server'),
      publicKey: keys.publicKey,
      ttlSeconds: 3600,
    })
    this.#current = { chainDer: [...svid.chainDer], privateKey: keys.privateKey, notAfter: svid.notAfter }
    for (const l of this.#listeners) l()
    return svid.serialHex
  }
  current() {
    if (!this.#current) throw new Error('no SVID yet')
    return this.#current
  }
  onChange(listener: () => void): void {
    this.#listeners.push(listener)
  }
}

t.test('https_web with the development pair: GET / serves the SPIFFE bundle', async (t) => {
  const endpoint = await startBundleEndpoint(webConfig())
  t.teardown(() => endpoint.close())
  t.ok(endpoint.port > 0, 'port 0 picked a free port')
  const ca = await readFile(join(f.dir, 'bundle-endpoint', 'dev-ca.pem'))
  const url = `https://127.0.0.1:${endpoint.port}/`
  const res = await httpsRequest(url, { ca, servername: 'localhost' })
  t.equal(res.status, 200)
  t.equal(res.headers['content-type'], 'application/json')
  const bundle = decodeSpiffeBundle(TD, res.body)
  const current = f.ca.currentBundle()
  t.same(bundle.x509Authorities, current.x509Authorities)
  t.same(
    bundle.jwtAuthorities.map((a) => a.kid),
    current.jwtAuthorities.map((a) => a.kid),
  )
  const doc = JSON.parse(res.body)
  t.equal(doc.spiffe_sequence, current.sequenceNumber)
  t.equal(doc.spiffe_refresh_hint, 300)
  t.ok(doc.keys.some((k: { use: string; x5c?: string[] }) => k.use === 'x509-svid' && k.x5c?.length === 1))
  t.ok(doc.keys.some((k: { use: string; kid?: string }) => k.use === 'jwt-svid' && typeof k.kid === 'string'))

  t.equal(
    (await httpsRequest(`${url}?probe=1`, { ca, servername: 'localhost' })).status,
    200,
    'a query is fine',
  )
  // The URL sigil-server and `npm start` print names 127.0.0.1: the dev certificate carries it.
  t.equal((await httpsRequest(url, { ca })).status, 200, 'https://127.0.0.1:<port>/ verifies with the dev CA')
  const leaf = readCertificateFacts(
    pemToCertificates(await readFile(join(f.dir, 'bundle-endpoint', 'dev-cert.pem'), 'utf8'))[0]!,
  )
  t.same(leaf.dnsSans, ['localhost'])
  t.same(leaf.ipSans, ['127.0.0.1', '::1'])
  await t.rejects(
    httpsRequest(url, { ca, servername: 'evil.example' }),
    'the dev certificate is for localhost, 127.0.0.1 and ::1 only',
  )
  await t.rejects(httpsRequest(url), 'not trusted without the dev CA')
  t.equal((await stat(join(f.dir, 'bundle-endpoint', 'dev-key.pem'))).mode & 0o777, 0o600, 'key 0600')
  t.match(f.logger.text(), /development certificate/)
})

t.test('devCertificateNames: localhost, 127.0.0.1 and ::1, plus the listen host', async (t) => {
  t.same(devCertificateNames('127.0.0.1'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] })
  t.same(devCertificateNames('0.0.0.0'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] })
  t.same(devCertificateNames('::'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] })
  t.same(devCertificateNames('10.0.0.5').ipAddresses, ['127.0.0.1', '::1', '10.0.0.5'])
  t.same(devCertificateNames('[0:0::1]').ipAddresses, ['127.0.0.1', '::1'], 'IPv6 compared in canonical form')
  t.same(devCertificateNames('bundle.example.org').dnsNames, ['localhost', 'bundle.example.org'])
})

t.test('other paths are 404 and other methods 405', async (t) => {
  const endpoint = await startBundleEndpoint(webConfig())
  t.teardown(() => endpoint.close())
  const base = `https://127.0.0.1:${endpoint.port}`
  const opts = { rejectUnauthorized: false }
  t.equal((await httpsRequest(`${base}/bundle`, opts)).status, 404)
  t.equal((await httpsRequest(`${base}//`, opts)).status, 404)
  for (const method of ['POST', 'PUT', 'DELETE', 'HEAD']) {
    const res = await httpsRequest(`${base}/`, { ...opts, method })
    t.equal(res.status, 405, method)
    t.equal(res.headers.allow, 'GET')
  }
})

t.test('the endpoint refuses TLS below 1.2 and asks for no client certificate', async (t) => {
  const endpoint = await startBundleEndpoint(webConfig())
  t.teardown(() => endpoint.close())
  const old = await new Promise<string>((done) => {
    const s = connect({
      host: '127.0.0.1',
      port: endpoint.port,
      rejectUnauthorized: false,
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    })
    s.on('secureConnect', () => {
      s.destroy()
      done('connected')
    })
    s.on('error', (e) => done(e.message))
  })
  t.not(old, 'connected', `TLS 1.1 refused (${old})`)
  const modern = await new Promise<string | null>((done) => {
    const s = connect({
      host: '127.0.0.1',
      port: endpoint.port,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    })
    s.on('secureConnect', () => {
      const v = s.getProtocol()
      s.destroy()
      done(v)
    })
    s.on('error', () => done(null))
  })
  t.equal(modern, 'TLSv1.2', 'TLS 1.2 works without a client certificate')
})

t.test('the development pair is reused across restarts and replaced when it no longer fits', async (t) => {
  const dir = join(f.dir, 'bundle-endpoint')
  const first = await startBundleEndpoint(webConfig())
  await first.close()
  const pem1 = await readFile(join(dir, 'dev-cert.pem'), 'utf8')
  const second = await startBundleEndpoint(webConfig())
  const served = await httpsRequest(`https://127.0.0.1:${second.port}/`, { rejectUnauthorized: false })
  await second.close()
  t.equal(await readFile(join(dir, 'dev-cert.pem'), 'utf8'), pem1, 'same certificate after a restart')
  t.same(served.peerChain[0], pemToCertificates(pem1)[0], 'and it is the one served')

  const other = TrustDomain.parse('other.org')
  const otherBundle = TrustBundle.create({
    trustDomain: other,
    x509Authorities: f.ca.currentBundle().x509Authorities,
  })
  const third = await startBundleEndpoint(webConfig({ bundle: () => otherBundle }))
  await third.close()
  const pem3 = await readFile(join(dir, 'dev-cert.pem'), 'utf8')
  t.not(pem3, pem1, 'a new pair for another trust domain')
  t.same(readCertificateFacts(pemToCertificates(pem3)[0]!).uriSans, [
    'spiffe://other.org/sigil/bundle-endpoint',
  ])
})

t.test('https_web with operator files; bad files are config errors', async (t) => {
  const dir = t.testdir()
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  const r = spawnSync(
    '/usr/bin/openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-days',
      '1',
    ],
    { encoding: 'utf8' },
  )
  t.equal(r.status, 0, r.stderr)
  const endpoint = await startBundleEndpoint(webConfig({ certFile: cert, keyFile: key }))
  t.teardown(() => endpoint.close())
  const res = await httpsRequest(`https://127.0.0.1:${endpoint.port}/`, {
    ca: await readFile(cert),
    servername: 'localhost',
  })
  t.equal(res.status, 200)
  t.same(
    res.peerChain[0],
    pemToCertificates(await readFile(cert, 'utf8'))[0],
    'serves the operator certificate',
  )

  const otherKey = join(dir, 'other-key.pem')
  spawnSync('/usr/bin/openssl', [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    otherKey,
  ])
  await t.rejects(startBundleEndpoint(webConfig({ certFile: cert, keyFile: otherKey })), {
    code: 'ERR_CONFIG_INVALID',
    message: /does not match/,
  })
  await t.rejects(startBundleEndpoint(webConfig({ certFile: cert })), { code: 'ERR_CONFIG_INVALID' })
  await t.rejects(startBundleEndpoint(webConfig({ certFile: key, keyFile: key })), {
    code: 'ERR_CONFIG_INVALID',
  })
  await t.rejects(startBundleEndpoint(webConfig({ certFile: join(dir, 'none.pem'), keyFile: key })), {
    code: 'ERR_CONFIG_INVALID',
    message: /cannot read/,
  })
})

t.test('https_spiffe serves the server X509-SVID and picks up its rotation', async (t) => {
  const identity = new TestIdentity(f.ca)
  const serial1 = await identity.rotate()
  const endpoint = await startBundleEndpoint(webConfig({ profile: 'https_spiffe', identity }))
  t.teardown(() => endpoint.close())
  const url = `https://127.0.0.1:${endpoint.port}/`
  const roots = f.ca.currentBundle().x509Authorities
  const check = async (expectedSerial: string) => {
    // an https_spiffe client checks the X509-SVID and its SPIFFE ID, not a host name
    const res = await httpsRequest(url, { rejectUnauthorized: false })
    t.equal(res.status, 200)
    const leaf = res.peerChain[0] as Buffer
    const { spiffeId } = verifyX509Svid([leaf], (td) => (td.equals(TD) ? roots : undefined))
    t.equal(spiffeId.toString(), 'spiffe://example.org/sigil/server')
    t.equal(readCertificateFacts(leaf).serialHex, expectedSerial)
    t.ok(decodeSpiffeBundle(TD, res.body).x509Authorities.length > 0)
  }
  await check(serial1)
  const serial2 = await identity.rotate()
  t.not(serial2, serial1)
  await check(serial2)
  t.match(f.logger.text(), /bundle endpoint certificate rotated/)
  await t.rejects(startBundleEndpoint(webConfig({ profile: 'https_spiffe' })), TypeError, 'needs an identity')
})

t.test('no bundle yet is 503; a busy port is ERR_UNAVAILABLE', async (t) => {
  let ready = true
  const endpoint = await startBundleEndpoint(
    webConfig({
      bundle: () => {
        if (!ready) throw new Error('not initialized')
        return f.ca.currentBundle()
      },
    }),
  )
  t.teardown(() => endpoint.close())
  ready = false
  const res = await httpsRequest(`https://127.0.0.1:${endpoint.port}/`, { rejectUnauthorized: false })
  t.equal(res.status, 503)
  await t.rejects(startBundleEndpoint(webConfig({ address: { host: '127.0.0.1', port: endpoint.port } })), {
    code: 'ERR_UNAVAILABLE',
  })
})
