// CRLs and the JSON revocation feed from the real sigil-server's bundle endpoint, checked by
// the real openssl (issue 13): `svid revoke --serial` makes `openssl verify -crl_check` refuse
// that SVID with the CRL from GET /crl.pem while another SVID passes; GET /crl is DER; the feed
// carries the sequence and deltas. Upstream CA case: Sigil's CA is an intermediate, the
// operator's upstream CRL is served beside ours, and `openssl verify -crl_check_all` passes.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import t from 'tap'
import { fetchSpiffeBundle, RevocationFeed, validateJwtSvid } from '../../sdk/index.js'
import { opensslCrlVerify } from '../helpers/openssl-crl-verify.js'
import { shortTempDir, startServerProcess } from '../helpers/server-process.js'
import { waitUntil } from '../helpers/wait-until.js'
import { httpsRequest } from '../server/cli/https-get.js'

async function mint(server: Awaited<ReturnType<typeof startServerProcess>>, dir: string, path: string) {
  const out = join(dir, path.replaceAll('/', '_'))
  const r = await server.cli(
    'x509',
    'mint',
    '--spiffe-id',
    `spiffe://example.org${path}`,
    '--write',
    out,
    '--output',
    'json',
  )
  if (r.code !== 0) throw new Error(r.stderr)
  return {
    serial: JSON.parse(r.stdout).serial as string,
    svid: join(out, 'svid.pem'),
    bundle: join(out, 'bundle.pem'),
  }
}

async function get(server: Awaited<ReturnType<typeof startServerProcess>>, path: string) {
  const ca = readFileSync(join(server.dataDir, 'bundle-endpoint', 'dev-ca.pem'))
  return httpsRequest(`${server.bundleEndpointUrl.replace(/\/$/, '')}${path}`, { ca })
}

t.test(
  'svid revoke --serial: openssl -crl_check refuses it with GET /crl.pem; the feed shows it',
  async (t) => {
    const dir = shortTempDir(t)
    const server = await startServerProcess(join(dir, 's'))
    t.teardown(() => server.stop())
    const revoked = await mint(server, dir, '/revoked')
    const kept = await mint(server, dir, '/kept')

    const before = JSON.parse((await get(server, '/revocations')).body)
    t.match(before, { sequence: 0, snapshot: true, revocations: [] })

    const r = await server.cli('svid', 'revoke', '--serial', revoked.serial, '--reason', 'key leaked')
    t.equal(r.code, 0, r.stderr)
    const crlPath = join(dir, 'crl.pem')
    const pem = await get(server, '/crl.pem')
    t.equal(pem.status, 200)
    writeFileSync(crlPath, pem.body)
    const verify = (leaf: string, bundle: string) =>
      opensslCrlVerify({ caFile: bundle, crlFile: crlPath, leaf })
    const bad = verify(revoked.svid, revoked.bundle)
    t.not(bad.code, 0)
    t.match(bad.out, /certificate revoked/)
    const good = verify(kept.svid, kept.bundle)
    t.equal(good.code, 0, good.out)

    const der = await get(server, '/crl')
    t.equal(der.headers['content-type'], 'application/pkix-crl')
    const feed = JSON.parse((await get(server, '/revocations')).body)
    t.match(feed, {
      sequence: 1,
      snapshot: true,
      refresh_hint: 5,
      revocations: [{ kind: 'x509_serial', value: revoked.serial }],
    })
    t.notOk(JSON.stringify(feed).includes('key leaked'), 'reasons are not published')
    await server.cli('svid', 'revoke', '--jti', 'some-jti')
    const delta = JSON.parse((await get(server, '/revocations?since=1')).body)
    t.match(delta, {
      sequence: 2,
      snapshot: false,
      revocations: [{ kind: 'jwt_jti', value: 'some-jti', sequence: 2 }],
    })
    t.equal((await get(server, '/revocations?since=abc')).status, 400)
  },
)

t.test('upstream CA: our CRL and the operator’s upstream CRL pass openssl -crl_check_all', async (t) => {
  const dir = shortTempDir(t)
  const up = join(dir, 'up')
  mkdirSync(up)
  const cnf = join(up, 'ca.cnf')
  writeFileSync(
    cnf,
    `[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=Upstream Root\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n` +
      `[ca]\ndefault_ca=own\n[own]\ndatabase=${up}/index.txt\ncrlnumber=${up}/crlnumber\ndefault_md=sha256\ndefault_crl_days=1\ncertificate=${up}/root.pem\nprivate_key=${up}/root.key\n`,
  )
  writeFileSync(join(up, 'index.txt'), '')
  writeFileSync(join(up, 'crlnumber'), '01\n')
  execFileSync('openssl', [
    'ecparam',
    '-name',
    'prime256v1',
    '-genkey',
    '-noout',
    '-out',
    join(up, 'root.key'),
  ])
  execFileSync('openssl', [
    'pkcs8',
    '-topk8',
    '-nocrypt',
    '-in',
    join(up, 'root.key'),
    '-out',
    join(up, 'root.p8'),
  ])
  execFileSync('chmod', ['600', join(up, 'root.p8')])
  execFileSync('openssl', [
    'req',
    '-new',
    '-x509',
    '-key',
    join(up, 'root.key'),
    '-days',
    '2',
    '-config',
    cnf,
    '-extensions',
    'v3',
    '-out',
    join(up, 'root.pem'),
  ])
  execFileSync('openssl', ['ca', '-gencrl', '-config', cnf, '-out', join(up, 'upstream-crl.pem')], {
    stdio: 'pipe',
  })

  const server = await startServerProcess(join(dir, 's'), [
    '--upstream-ca-cert',
    join(up, 'root.pem'),
    '--upstream-ca-key',
    join(up, 'root.p8'),
    '--upstream-crl',
    join(up, 'upstream-crl.pem'),
  ])
  t.teardown(() => server.stop())
  const revoked = await mint(server, dir, '/revoked')
  const kept = await mint(server, dir, '/kept')
  t.equal((await server.cli('svid', 'revoke', '--serial', revoked.serial)).code, 0)
  const crlPath = join(dir, 'all-crls.pem')
  writeFileSync(crlPath, (await get(server, '/crl.pem')).body)
  t.equal(
    (readFileSync(crlPath, 'utf8').match(/BEGIN X509 CRL/g) ?? []).length,
    2,
    'our CRL and the upstream one',
  )
  // svid.pem holds the leaf and Sigil's intermediate CA; the upstream root is the anchor
  const verify = (leaf: string, crls = crlPath) =>
    opensslCrlVerify({ caFile: join(up, 'root.pem'), untrusted: leaf, crlFile: crls, leaf })
  const good = verify(kept.svid)
  t.equal(good.code, 0, good.out)
  const bad = verify(revoked.svid)
  t.not(bad.code, 0)
  t.match(bad.out, /certificate revoked/)
  // without the upstream CRL, the whole-chain check cannot pass: why it is served
  const oursOnly = join(dir, 'ours.pem')
  writeFileSync(oursOnly, readFileSync(crlPath, 'utf8').split(/(?=-----BEGIN X509 CRL-----)/)[0] ?? '')
  const missing = verify(kept.svid, oursOnly)
  t.not(missing.code, 0)
  t.match(missing.out, /unable to get certificate CRL/)
})

t.test('SDK RevocationFeed: validateJwtSvid refuses a revoked JWT-SVID without an agent', async (t) => {
  const dir = shortTempDir(t)
  const server = await startServerProcess(join(dir, 's'))
  t.teardown(() => server.stop())
  const profile = {
    type: 'https_web' as const,
    ca: readFileSync(join(server.dataDir, 'bundle-endpoint', 'dev-ca.pem')),
  }
  const bundle = await fetchSpiffeBundle({
    url: server.bundleEndpointUrl,
    trustDomain: 'example.org',
    profile,
  })
  const errors: unknown[] = []
  const feed = await RevocationFeed.create({
    url: server.bundleEndpointUrl,
    profile,
    pollIntervalMs: 50,
    onError: (e) => errors.push(e),
  })
  t.teardown(() => feed.close())
  const minted = JSON.parse(
    (
      await server.cli(
        'jwt',
        'mint',
        '--spiffe-id',
        'spiffe://example.org/svc',
        '--audience',
        'api',
        '--output',
        'json',
      )
    ).stdout,
  )
  const opts = { audience: 'api', bundleFor: () => bundle, revocations: feed }
  t.equal((await validateJwtSvid(minted.token, opts)).spiffeId.toString(), 'spiffe://example.org/svc')
  const jti = decodeJwt(minted.token).jti as string
  t.equal((await server.cli('svid', 'revoke', '--jti', jti)).code, 0)
  t.equal((await server.cli('svid', 'revoke', '--serial', '0A:BC')).code, 0)
  await waitUntil('the feed to poll the revocations', () => feed.sequence === 2, { timeoutMs: 5_000 })
  t.ok(feed.isRevoked({ jti }))
  t.ok(feed.isRevoked({ serial: '0abc' }), 'serials in any spelling')
  t.notOk(feed.isRevoked({ jti: 'other', txn: 'task-x' }))
  await t.rejects(validateJwtSvid(minted.token, opts), { code: 'ERR_SVID_REVOKED' })
  t.same(errors, [], 'no failed poll')
})
