// The Workload API over a real Unix socket with real attestation of this test process: the
// security header, status codes, the X.509 response contents, holding callers while SVIDs are
// minted, bundle streams, robustness against garbage, and the socket's life cycle.
import { execFileSync, spawnSync } from 'node:child_process'
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { lstat, mkdir, stat, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Metadata, status } from '@grpc/grpc-js'
import t from 'tap'
import { pidfdIsAlive } from '../../../agent/peercred/peer-credentials.js'
import { startWorkloadApiServer } from '../../../agent/workloadapi/workload-api-server.js'
import { WorkloadAttestor } from '../../../agent/workloadattestation/workload-attestor.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../../certs/errors.js'
import { splitConcatenatedDer } from '../../../certs/x509svid/parse-x509-svid.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import type { X509BundlesResponse__Output } from '../../../proto/generated/X509BundlesResponse.js'
import { createTestCa } from '../../helpers/testca.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { collectingLogger, entry, gate } from '../cache/fake-server.js'
import { collect, fetchJwt, firstMessage, md, startHarness, streamStatus, validateJwt } from './harness.js'

const mine = (uid: number) => [
  entry({ id: 'e2', path: '/web', selectors: [`unix:uid:${uid}`], hint: 'internal' }),
  entry({ id: 'e1', path: '/db', selectors: [`unix:uid:${uid}`] }),
]

t.test('calls without the security header get INVALID_ARGUMENT, unary and streaming', async (t) => {
  const h = await startHarness(t, { entries: ({ uid }) => mine(uid) })
  const c = h.client()
  const bad: [string, Metadata][] = [['none', new Metadata()]]
  const wrong = new Metadata()
  wrong.set('workload.spiffe.io', 'True')
  bad.push(['wrong value', wrong])
  const twice = new Metadata()
  twice.add('workload.spiffe.io', 'true')
  twice.add('workload.spiffe.io', 'true')
  bad.push(['two values', twice])
  for (const [name, m] of bad) {
    for (const [rpc, s] of [
      ['FetchX509SVID', c.FetchX509SVID({}, m)],
      ['FetchX509Bundles', c.FetchX509Bundles({}, m)],
      ['FetchJWTBundles', c.FetchJWTBundles({}, m)],
      ['FetchWITSVID', c.FetchWITSVID({}, m)],
    ] as const) {
      const st = await streamStatus(s)
      t.equal(st.code, status.INVALID_ARGUMENT, `${rpc}, ${name}`)
      t.equal(st.details, 'security header missing from request')
    }
    const jwt = await fetchJwt(c, { audience: ['a'] }, m)
    t.equal(jwt.err?.code, status.INVALID_ARGUMENT, `FetchJWTSVID, ${name}`)
    const val = await validateJwt(c, { audience: 'a', svid: 'x' }, m)
    t.equal(val.err?.code, status.INVALID_ARGUMENT, `ValidateJWTSVID, ${name}`)
  }
  t.equal(h.server.issuer.x509Calls.length, 0, 'nothing was minted for header-less calls')
  t.equal((await streamStatus(c.FetchWITBundles({}, md()))).code, status.UNIMPLEMENTED, 'WIT: unimplemented')
})

t.test('a caller that matches no entry gets PERMISSION_DENIED', async (t) => {
  const h = await startHarness(t, {
    entries: () => [entry({ id: 'x', path: '/other', selectors: ['unix:uid:424242'] })],
  })
  const c = h.client()
  const x509 = await streamStatus(c.FetchX509SVID({}, md()))
  t.same(x509, { code: status.PERMISSION_DENIED, details: 'no identity issued' })
  t.equal((await streamStatus(c.FetchX509Bundles({}, md()))).code, status.PERMISSION_DENIED)
  t.equal((await streamStatus(c.FetchJWTBundles({}, md()))).code, status.PERMISSION_DENIED)
  const jwt = await fetchJwt(c, { audience: ['a'] })
  t.equal(jwt.err?.code, status.PERMISSION_DENIED)
})

t.test('a matching caller gets complete, verifiable X509-SVIDs', async (t) => {
  const h = await startHarness(t, { entries: ({ uid }) => mine(uid) })
  const res = await firstMessage(h.client().FetchX509SVID({}, md()))
  t.same(
    res.svids.map((s) => [s.spiffe_id, s.hint]),
    [
      ['spiffe://example.org/db', ''],
      ['spiffe://example.org/web', 'internal'],
    ],
    'sorted by entry ID: the first is the default identity',
  )
  t.same(res.federated_bundles, {})
  for (const svid of res.svids) {
    const chain = splitConcatenatedDer(svid.x509_svid)
    t.ok(chain.length >= 1)
    const leaf = new X509Certificate(chain[0]!)
    t.match(leaf.subjectAltName, svid.spiffe_id)
    const roots = splitConcatenatedDer(svid.bundle)
    t.same(roots, [h.server.ca.rootDer], 'bundle: our CA, DER')
    t.ok(leaf.verify(new X509Certificate(roots[0]!).publicKey), 'leaf verifies against the bundle')
    t.ok(Date.parse(leaf.validTo) > Date.now())
    const key = createPrivateKey({ key: svid.x509_svid_key, format: 'der', type: 'pkcs8' })
    t.ok(
      createPublicKey(key)
        .export({ type: 'spki', format: 'der' })
        .equals(leaf.publicKey.export({ type: 'spki', format: 'der' })),
      'PKCS#8 key matches the leaf',
    )
  }
  // openssl on one sample, from files as a client would write them.
  const sample = res.svids[0]!
  await writeFile(join(h.dir, 'svid.pem'), certificatesToPem(splitConcatenatedDer(sample.x509_svid)))
  await writeFile(join(h.dir, 'bundle.pem'), certificatesToPem(splitConcatenatedDer(sample.bundle)))
  const out = execFileSync('/usr/bin/openssl', [
    'verify',
    '-CAfile',
    join(h.dir, 'bundle.pem'),
    join(h.dir, 'svid.pem'),
  ]).toString()
  t.match(out, /svid\.pem: OK/)
})

t.test('a caller whose SVIDs are still being minted is held, then served', async (t) => {
  const h = await startHarness(t, { entries: ({ uid }) => mine(uid) })
  const g = gate()
  h.server.issuer.gate = g.promise
  const s = collect(h.client().FetchX509SVID({}, md()))
  await waitUntil('the request to reach the issuer', () => h.server.issuer.x509Calls.length > 0)
  t.equal(s.count, 0, 'nothing sent while minting')
  t.equal(s.error, undefined, 'and not refused')
  g.open()
  const res = await s.next()
  t.equal(res.svids.length, 2)
})

t.test('FetchX509Bundles: own trust domain always, federated by entry, no duplicate messages', async (t) => {
  const foreign = await createTestCa({ trustDomain: 'other.org' })
  const h = await startHarness(t, {
    entries: ({ uid }) => [
      entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`], federatesWith: ['spiffe://other.org'] }),
    ],
  })
  const other = TrustBundle.create({ trustDomain: foreign.trustDomain, x509Authorities: [foreign.rootDer] })
  const entries = h.server.issuer.entries
  h.cache.update(h.server.state(entries, new Map([['other.org', other]])))
  const s = collect(h.client().FetchX509Bundles({}, md()))
  const first: X509BundlesResponse__Output = await s.next()
  t.same(Object.keys(first.bundles).sort(), ['spiffe://example.org', 'spiffe://other.org'])
  t.same(first.bundles['spiffe://example.org'], h.server.ca.rootDer)
  // The same bundles again (new entry list): no message. Then a real change: one message.
  h.cache.update(h.server.state([...entries], new Map([['other.org', other]])))
  const second = await createTestCa({ trustDomain: 'other.org' })
  const changed = other.withX509Authorities([foreign.rootDer, second.rootDer])
  h.cache.update(h.server.state([...entries], new Map([['other.org', changed]])))
  const next = await s.next()
  t.same(
    splitConcatenatedDer(next.bundles['spiffe://other.org']!),
    [foreign.rootDer, second.rootDer],
    'the next message is the change, not a repeat',
  )
  // FetchX509SVID carries only the foreign bundle in federated_bundles.
  const x = await firstMessage(h.client().FetchX509SVID({}, md()))
  t.same(Object.keys(x.federated_bundles), ['spiffe://other.org'])
})

t.test('garbage on one connection does not disturb other clients', async (t) => {
  const h = await startHarness(t, { entries: ({ uid }) => mine(uid) })
  const good = collect(h.client().FetchX509SVID({}, md()))
  await good.next()
  const raw = connect(h.socketPath)
  raw.on('error', () => {})
  raw.resume() // read what the server answers, so its close is seen
  await new Promise((resolve) => raw.once('connect', resolve))
  raw.write(Buffer.from('GET / HTTP/1.1\r\n\r\n\u0000\u0001garbage garbage'))
  raw.write(Buffer.alloc(4096, 0xff))
  await new Promise((resolve) => raw.once('close', resolve))
  t.pass('the server closed the garbage connection')
  const again = await firstMessage(h.client().FetchX509SVID({}, md()))
  t.equal(again.svids.length, 2, 'new clients are still served')
  t.equal(good.error, undefined, 'the open stream is untouched')
  const jwt = await fetchJwt(h.client(), { audience: ['x'] })
  t.equal(jwt.res?.svids.length, 2)
})

t.test('attestation failure gives PERMISSION_DENIED, never a crash', async (t) => {
  const h = await startHarness(t, {
    entries: ({ uid }) => mine(uid),
    server: {
      attestor: {
        attest: () => Promise.reject(new SigilError('ERR_ATTESTATION_FAILED', 'process gone (test)')),
      },
    },
  })
  const c = h.client()
  t.same(await streamStatus(c.FetchX509SVID({}, md())), {
    code: status.PERMISSION_DENIED,
    details: 'workload attestation failed',
  })
  const v = await validateJwt(c, { audience: 'a', svid: 'x.y.z' })
  t.equal(v.err?.code, status.PERMISSION_DENIED)
})

t.test('a new connection is attested before its first call, which reuses that attestation', async (t) => {
  const real = new WorkloadAttestor({ pidfdIsAlive })
  const attested: number[] = []
  const h = await startHarness(t, {
    entries: ({ uid }) => mine(uid),
    server: {
      attestationTtlMs: 600_000,
      attestor: {
        attest: (peer, want) => {
          attested.push(peer.pid)
          return real.attest(peer, want)
        },
      },
    },
  })
  // A bare connection that sends nothing is attested all the same.
  const raw = connect(h.socketPath)
  t.teardown(() => raw.destroy())
  await new Promise((resolve) => raw.once('connect', resolve))
  await waitUntil('the bare connection to be attested', () => h.cache.stats().processes > 0)
  t.same(attested, [process.pid], 'attested on accept, without any call')
  t.equal(h.cache.stats().processes, 1, 'and held while the connection is open')

  // A client's connection is attested on accept; its first call reuses that attestation.
  const res = await firstMessage(h.client().FetchX509SVID({}, md()))
  t.equal(res.svids.length, 2)
  t.same(attested, [process.pid, process.pid], 'one attestation per connection, none per call')
})

t.test('a connection whose peer cannot be read is closed', async (t) => {
  const h = await startHarness(t, {
    entries: ({ uid }) => mine(uid),
    server: {
      readPeer: () => {
        throw new SigilError('ERR_ATTESTATION_FAILED', 'no peer (test)')
      },
    },
  })
  const st = await fetchJwt(h.client(), { audience: ['a'] })
  t.equal(st.err?.code, status.UNAVAILABLE)
  t.equal(h.api.connections(), 0)
})

t.test(
  'socket life cycle: 0755 parent, 0777 socket, stale socket replaced, streams end OK on close',
  async (t) => {
    const h = await startHarness(t, { entries: ({ uid }) => mine(uid) })
    t.equal((await stat(join(h.dir, 'public'))).mode & 0o777, 0o755)
    const st = await lstat(h.socketPath)
    t.ok(st.isSocket())
    t.equal(st.mode & 0o777, 0o777)
    const stream = h.client().FetchX509SVID({}, md())
    await firstMessage(stream)
    const ended = streamStatus(stream)
    await h.api.close()
    t.equal((await ended).code, status.OK, 'open streams end with OK at shutdown')
    await t.rejects(lstat(h.socketPath), { code: 'ENOENT' }, 'socket removed')
    t.equal(h.cache.stats().processes, 0, 'connections released')

    // A stale socket (left by a dead agent) is replaced; a regular file is not.
    const stale = join(h.dir, 'stale', 'api.sock')
    await mkdir(join(h.dir, 'stale'))
    const { logger } = collectingLogger()
    const base = {
      cache: h.cache,
      attestor: new WorkloadAttestor({ pidfdIsAlive }),
      trustDomain: 'example.org',
      logger,
    }
    // A dead agent's socket file: its process was killed while listening.
    const script = `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`
    spawnSync(process.execPath, ['-e', script])
    t.ok((await lstat(stale)).isSocket(), 'stale socket left behind')
    const again = await startWorkloadApiServer({ ...base, socketPath: stale })
    const res = await firstMessage(h.client2(stale).FetchX509SVID({}, md()))
    t.equal(res.svids.length, 2, 'served on the replaced socket')
    await again.close()
    const file = join(h.dir, 'stale', 'not-a-socket')
    await writeFile(file, 'data')
    await t.rejects(startWorkloadApiServer({ ...base, socketPath: file }), { code: 'ERR_CONFIG_INVALID' })
  },
)
