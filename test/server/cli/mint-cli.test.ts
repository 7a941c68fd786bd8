import { spawnSync } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose'
import t from 'tap'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { pemToCertificates } from '../../../certs/x509svid/pem.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { type BundleEndpoint, startBundleEndpoint } from '../../../server/endpoints/bundle-endpoint.js'
import { type AdminFixture, startAdminFixture, TD } from './admin-test-kit.js'
import { httpsRequest } from './https-get.js'

const WEB = 'spiffe://example.org/ns/prod/sa/web'

let f: AdminFixture
let endpoint: BundleEndpoint
t.before(async () => {
  f = await startAdminFixture()
  endpoint = await startBundleEndpoint({
    address: { host: '127.0.0.1', port: 0 },
    profile: 'https_web',
    dataDir: f.dir,
    bundle: () => f.ca.currentBundle(),
    logger: f.logger,
  })
})
t.teardown(async () => {
  await endpoint.close()
  await f.close()
})

function openssl(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('/usr/bin/openssl', args, { encoding: 'utf8' })
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}

t.test(
  'x509 mint --write writes svid.pem, key.pem (0600) and bundle.pem that openssl verifies',
  async (t) => {
    const dir = join(f.dir, 'out', 'web')
    const r = await f.cli([
      'x509',
      'mint',
      '--spiffe-id',
      WEB,
      '--ttl',
      '10m',
      '--dns-name',
      'web.example.org',
      '--write',
      dir,
    ])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, `X509-SVID written to ${join(dir, 'svid.pem')}\n`)
    t.match(r.stdout, `Private key written to ${join(dir, 'key.pem')}\n`)
    const verify = openssl([
      'verify',
      '-x509_strict',
      '-CAfile',
      join(dir, 'bundle.pem'),
      join(dir, 'svid.pem'),
    ])
    t.equal(verify.status, 0, verify.out)
    t.equal((await stat(join(dir, 'key.pem'))).mode & 0o777, 0o600, 'key.pem is 0600')
    const keyPem = await readFile(join(dir, 'key.pem'), 'utf8')
    t.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8')
    const certPub = openssl(['x509', '-in', join(dir, 'svid.pem'), '-noout', '-pubkey']).out
    const keyPub = openssl(['pkey', '-in', join(dir, 'key.pem'), '-pubout']).out
    t.equal(certPub, keyPub, 'the key belongs to the certificate')

    const chain = pemToCertificates(await readFile(join(dir, 'svid.pem'), 'utf8'))
    const roots = pemToCertificates(await readFile(join(dir, 'bundle.pem'), 'utf8'))
    t.same(roots, f.ca.currentBundle().x509Authorities, 'bundle.pem holds the bundle roots')
    const verified = verifyX509Svid(chain, (td) => (td.equals(TD) ? roots : undefined))
    t.equal(verified.spiffeId.toString(), WEB)
    const leaf = readCertificateFacts(chain[0]!)
    t.same(leaf.dnsSans, ['web.example.org'])
    t.ok(Math.abs(leaf.notAfter.getTime() - Date.now() - 600_000) < 5_000, 'TTL from --ttl')

    const [record] = await f.datastore.listIssuedSvids({ spiffeId: WEB })
    t.match(record, { kind: 'x509', serialOrJti: leaf.serialHex, entryId: '', agentId: '', audience: [] })
  },
)

t.test('x509 mint without --write prints the three PEMs; --output json carries them too', async (t) => {
  const r = await f.cli(['x509', 'mint', '--spiffe-id', WEB])
  t.equal(r.code, 0, r.stderr)
  t.match(
    r.stdout,
    /^X509-SVID:\n-----BEGIN CERTIFICATE-----\n[\s\S]*\nPrivate key:\n-----BEGIN PRIVATE KEY-----\n[\s\S]*\nRoot CAs:\n-----BEGIN CERTIFICATE-----\n/,
  )
  const json = JSON.parse((await f.cli(['x509', 'mint', '--spiffe-id', WEB, '--output', 'json'])).stdout)
  t.match(json, { spiffe_id: WEB, serial: /^[0-9a-f]+$/ })
  t.ok(json.expires_at > Date.now() / 1000 + 3500, 'default TTL 1h')
  const chain = pemToCertificates(json.svid_pem)
  t.equal(readCertificateFacts(chain[0]!).serialHex, json.serial)
  t.same(pemToCertificates(json.bundle_pem), f.ca.currentBundle().x509Authorities)
  t.match(json.key_pem, /PRIVATE KEY/)
})

t.test('x509 mint refuses bad input with exit 2 before minting', async (t) => {
  const before = (await f.datastore.listIssuedSvids()).length
  for (const argv of [
    ['x509', 'mint'],
    ['x509', 'mint', '--spiffe-id', 'spiffe://example.org/a/../b'],
    ['x509', 'mint', '--spiffe-id', WEB, '--dns-name', 'bad_name!'],
    ['x509', 'mint', '--spiffe-id', 'spiffe://other.org/web'],
  ]) {
    const r = await f.cli(argv)
    t.equal(r.code, 2, argv.join(' '))
    t.equal(r.stderr.split('\n').length, 2, r.stderr)
  }
  t.equal((await f.datastore.listIssuedSvids()).length, before, 'nothing minted')
})

t.test('jwt mint prints a token that verifies against the JWKS from the bundle endpoint', async (t) => {
  const r = await f.cli([
    'jwt',
    'mint',
    '--spiffe-id',
    WEB,
    '--audience',
    'spiffe://example.org/db',
    '--audience',
    'extra',
    '--ttl',
    '2m',
  ])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/, 'the token alone')
  const token = r.stdout.trim()

  const res = await httpsRequest(`https://127.0.0.1:${endpoint.port}/`, {
    ca: await readFile(join(f.dir, 'bundle-endpoint', 'dev-ca.pem')),
    servername: 'localhost',
  })
  t.equal(res.status, 200)
  const doc = JSON.parse(res.body) as { keys: ({ use: string } & Record<string, unknown>)[] }
  // a relying party takes the jwt-svid keys of the SPIFFE bundle as a plain JWKS
  const jwks = createLocalJWKSet({
    keys: doc.keys.filter((k) => k.use === 'jwt-svid').map(({ use: _use, ...k }) => k),
  })
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { audience: 'spiffe://example.org/db' })
  t.equal(payload.sub, WEB)
  t.same(payload.aud, ['spiffe://example.org/db', 'extra'])
  t.equal((payload.exp ?? 0) - (payload.iat ?? 0), 120, 'TTL from --ttl')
  t.equal(protectedHeader.typ, 'JWT')

  const [record] = await f.datastore.listIssuedSvids({ spiffeId: WEB, limit: 1 })
  t.match(record, { kind: 'jwt', serialOrJti: payload.jti, audience: ['spiffe://example.org/db', 'extra'] })

  const json = JSON.parse(
    (await f.cli(['jwt', 'mint', '--spiffe-id', WEB, '--audience', 'a', '--output', 'json'])).stdout,
  )
  t.match(json, { spiffe_id: WEB, audience: ['a'] })
  t.equal(json.expires_at - json.issued_at, 300, 'default JWT TTL')
  t.equal(decodeJwt(json.token).sub, WEB)
})

t.test('jwt mint needs --audience and a valid SPIFFE ID', async (t) => {
  const noAud = await f.cli(['jwt', 'mint', '--spiffe-id', WEB])
  t.equal(noAud.code, 2)
  t.match(noAud.stderr, /--audience is required/)
  const bad = await f.cli(['jwt', 'mint', '--spiffe-id', 'web', '--audience', 'a'])
  t.equal(bad.code, 2)
  const other = await f.cli(['jwt', 'mint', '--spiffe-id', 'spiffe://other.org/web', '--audience', 'a'])
  t.equal(other.code, 2)
})

t.test('svid list shows the issuance record with filters', async (t) => {
  const agent = 'spiffe://example.org/sigil/agent/join_token/z'
  const long = new Date(Date.now() - 3 * 3600_000)
  await f.datastore.recordIssuedSvids([
    {
      kind: 'x509',
      serialOrJti: 'abc123',
      spiffeId: 'spiffe://example.org/batch',
      entryId: 'entry-1',
      agentId: agent,
      notBefore: long,
      notAfter: new Date(long.getTime() + 3600_000),
      audience: [],
      issuedAt: long,
    },
  ])
  const all = await f.cli(['svid', 'list'])
  t.equal(all.code, 0, all.stderr)
  const total = (await f.datastore.listIssuedSvids()).length
  t.match(all.stdout, new RegExp(`^Found ${total} SVIDs\n\n`))
  t.match(all.stdout, 'Kind             : jwt\nJWT ID           : ')
  t.match(all.stdout, 'Audience         : spiffe://example.org/db\n')

  const byAgent = await f.cli(['svid', 'list', '--agent-id', agent])
  t.match(byAgent.stdout, /^Found 1 SVID\n\n/)
  t.match(byAgent.stdout, 'Serial number    : abc123\n')
  t.match(byAgent.stdout, 'Entry ID         : entry-1\n')
  t.match(byAgent.stdout, `Agent ID         : ${agent}\n`)

  const recent = JSON.parse((await f.cli(['svid', 'list', '--since', '1h', '--output', 'json'])).stdout)
  t.equal(recent.svids.length, total - 1, '--since leaves out the old record')
  t.ok(
    recent.svids.every(
      (s: { issued_at: number }, i: number, a: { issued_at: number }[]) =>
        i === 0 || a[i - 1]!.issued_at >= s.issued_at,
    ),
    'newest first',
  )
  const byId = JSON.parse(
    (await f.cli(['svid', 'list', '--spiffe-id', 'spiffe://example.org/batch', '--output', 'json'])).stdout,
  )
  t.match(byId.svids, [{ kind: 'x509', serial: 'abc123', jti: '', entry_id: 'entry-1', agent_id: agent }])
  const both = JSON.parse(
    (await f.cli(['svid', 'list', '--spiffe-id', WEB, '--agent-id', agent, '--output', 'json'])).stdout,
  )
  t.same(both.svids, [], 'filters AND')
  const bad = await f.cli(['svid', 'list', '--since', 'yesterday'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--since/)
})
