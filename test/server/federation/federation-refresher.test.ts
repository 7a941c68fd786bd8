// The federation refresher against real HTTPS bundle endpoints on port 0 and a real SQLite
// datastore: a good bundle is stored, a newer one replaces it, and garbage, an older sequence,
// a bundle for another trust domain, an empty bundle, an oversized body, an HTTP error, a
// hanging endpoint (timeout) and a stopped endpoint each leave the last good bundle in place
// with the error recorded on the relationship and logged. https_spiffe authenticates the
// endpoint by its SPIFFE ID against the stored bundle of that trust domain.
import { once } from 'node:events'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { privateKeyToPkcs8Pem } from '../../../certs/keys/keys.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { SqliteDataStore } from '../../../server/datastore/sqlite/sqlite-data-store.js'
import { FederationRefresher } from '../../../server/federation/federation-refresher.js'
import { spiffeBundleDoc } from '../../helpers/federation-fixtures.js'
import { createTestCa, type TestCa } from '../../helpers/testca.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { makeWebPki } from '../../helpers/web-pki.js'

const own = TrustDomain.parse('example.org')
const other = TrustDomain.parse('other.org')

interface Endpoint {
  url: string
  answer: (res: import('node:http').ServerResponse) => void
  hits: number
  server: Server
}

async function startEndpoint(t: Test, tls: { key: string; cert: string }): Promise<Endpoint> {
  const ep: Endpoint = {
    url: '',
    hits: 0,
    answer: (res) => {
      res.end('{}')
    },
    server: createServer(tls, (_req, res) => {
      ep.hits++
      ep.answer(res)
    }),
  }
  ep.server.listen(0, '127.0.0.1')
  await once(ep.server, 'listening')
  ep.url = `https://localhost:${(ep.server.address() as AddressInfo).port}/`
  t.teardown(() => {
    ep.server.closeAllConnections()
    ep.server.close()
  })
  return ep
}

const bundleDoc = (ca: TestCa, seq: number, td = ca.trustDomain) =>
  spiffeBundleDoc(ca, seq, { trustDomain: td, refreshHintSeconds: 60 })

function captureLog() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = []
  const at = (level: string) => (obj: object, msg: string) => {
    lines.push({ level, obj: obj as Record<string, unknown>, msg })
  }
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
}

t.test('https_web: stores good bundles and keeps the last good one through every bad answer', async (t) => {
  const dir = t.testdir()
  const pki = makeWebPki(dir)
  const ep = await startEndpoint(t, pki)
  const otherCa = await createTestCa({ trustDomain: 'other.org' })
  const thirdCa = await createTestCa({ trustDomain: 'third.org' })
  const ownCa = await createTestCa({ trustDomain: 'example.org' })
  const ds = await SqliteDataStore.open({ path: join(dir, 'ds.sqlite3') })
  t.teardown(() => ds.close())
  const { lines, log } = captureLog()
  const refresherWith = (timeoutMs: number) =>
    new FederationRefresher({
      datastore: ds,
      trustDomain: own,
      ownBundle: () => TrustBundle.create({ trustDomain: own, x509Authorities: [ownCa.rootDer] }),
      logger: log,
      webCaPem: [pki.ca],
      limits: { timeoutMs, maxBytes: 64 * 1024 },
    })
  // generous for answers (a loaded machine), short for the hang
  const refresher = refresherWith(10_000)
  const impatient = refresherWith(500)
  await ds.createFederationRelationship(
    {
      trustDomain: 'other.org',
      bundleEndpointUrl: ep.url,
      bundleEndpointProfile: 'https_web',
      endpointSpiffeId: '',
    },
    new Date(),
  )

  const good = await bundleDoc(otherCa, 5)
  ep.answer = (res) => res.end(good)
  const first = await refresher.refresh('other.org')
  t.equal(first.outcome, 'stored')
  t.equal(first.sequenceNumber, 5)
  t.equal((await ds.getBundle('other.org'))?.sequenceNumber, 5)
  const rel = await ds.getFederationRelationship('other.org')
  t.equal(rel?.lastError, '')
  t.ok(rel?.lastRefreshAt, 'the attempt is recorded')
  t.equal(
    (rel?.nextRefreshAt.getTime() ?? 0) - (rel?.lastRefreshAt?.getTime() ?? 0),
    60_000,
    'next by the hint',
  )
  t.equal(
    (await refresher.refresh('other.org')).outcome,
    'unchanged',
    'the same bundle again changes nothing',
  )
  const stored = (await ds.getBundle('other.org'))?.spiffeBundleJson

  const bad: [string, (res: import('node:http').ServerResponse) => void, RegExp][] = [
    ['garbage', (res) => res.end('not json {'), /JSON|bundle/i],
    ['a JSON document without keys', (res) => res.end('{"spiffe_sequence": 9}'), /keys/],
    ['an older sequence', async (res) => res.end(await bundleDoc(otherCa, 4)), /not newer/],
    [
      'the same sequence with other content',
      async (res) => res.end(await bundleDoc(otherCa, 5)),
      /not newer/,
    ],
    [
      'a bundle for another trust domain',
      async (res) => res.end(await bundleDoc(thirdCa, 9, other)),
      /another trust domain/,
    ],
    ['an empty bundle', (res) => res.end('{"keys": [], "spiffe_sequence": 10}'), /no usable key/],
    [
      'an oversized body',
      (res) => res.end(`{"keys": [], "pad": "${'x'.repeat(100 * 1024)}"}`),
      /larger than/,
    ],
    [
      'HTTP 500',
      (res) => {
        res.statusCode = 500
        res.end('oops')
      },
      /HTTP 500/,
    ],
    ['a hang (timeout)', () => {}, /within 500 ms/],
  ]
  for (const [what, answer, why] of bad) {
    ep.answer = answer
    const before = lines.length
    const r = await (what.startsWith('a hang') ? impatient : refresher).refresh('other.org')
    t.equal(r.outcome, 'failed', `${what}: refused`)
    t.match(r.error, why, `${what}: the reason`)
    t.equal(r.sequenceNumber, 5, `${what}: the last good sequence is still held`)
    t.equal(
      (await ds.getBundle('other.org'))?.spiffeBundleJson,
      stored,
      `${what}: the stored bundle is unchanged`,
    )
    t.match((await ds.getFederationRelationship('other.org'))?.lastError, why, `${what}: last_error recorded`)
    t.ok(
      lines.slice(before).some((l) => l.level === 'warn' && l.obj.trust_domain === 'other.org'),
      `${what}: logged`,
    )
  }

  // the endpoint goes away entirely
  ep.server.closeAllConnections()
  ep.server.close()
  const gone = await refresher.refresh('other.org')
  t.equal(gone.outcome, 'failed')
  t.equal((await ds.getBundle('other.org'))?.spiffeBundleJson, stored, 'stopped endpoint: bundle kept')

  // the host name is checked (127.0.0.1 is in the certificate, other.invalid is not) and only
  // the configured CA is added
  const noCa = new FederationRefresher({
    datastore: ds,
    trustDomain: own,
    ownBundle: () => TrustBundle.create({ trustDomain: own }),
    logger: log,
    limits: { timeoutMs: 10_000 },
  })
  const ep2 = await startEndpoint(t, pki)
  ep2.answer = async (res) => res.end(await bundleDoc(otherCa, 6))
  await ds.updateFederationRelationship(
    {
      trustDomain: 'other.org',
      bundleEndpointUrl: ep2.url,
      bundleEndpointProfile: 'https_web',
      endpointSpiffeId: '',
    },
    new Date(),
  )
  const untrusted = await noCa.refresh('other.org')
  t.equal(untrusted.outcome, 'failed', 'an endpoint certificate outside the system roots is refused')
  const newer = await refresher.refresh('other.org')
  t.equal(newer.outcome, 'stored', 'a newer bundle from the new URL replaces the old one')
  t.equal((await ds.getBundle('other.org'))?.sequenceNumber, 6)

  const due = await refresher.refreshDue()
  t.same(due, [], 'nothing is due right after a refresh')
  await t.rejects(refresher.refresh('nobody.org'), { code: 'ERR_NOT_FOUND' })
})

t.test('https_spiffe: the endpoint must present an X509-SVID for exactly the configured ID', async (t) => {
  const dir = t.testdir()
  const otherCa = await createTestCa({ trustDomain: 'other.org' })
  const svid = await otherCa.mintSvid('/sigil/server', { dnsNames: ['localhost'] })
  const ep = await startEndpoint(t, {
    key: privateKeyToPkcs8Pem(svid.privateKey),
    cert: certificatesToPem(svid.chainDer),
  })
  const doc = await bundleDoc(otherCa, 3)
  ep.answer = (res) => res.end(doc)
  const ds = await SqliteDataStore.open({ path: join(dir, 'ds.sqlite3') })
  t.teardown(() => ds.close())
  const { log } = captureLog()
  const outcomes: string[] = []
  const refresher = new FederationRefresher({
    datastore: ds,
    trustDomain: own,
    ownBundle: () => TrustBundle.create({ trustDomain: own }),
    logger: log,
    onRefreshed: (o) => outcomes.push(o),
    limits: { timeoutMs: 10_000 },
  })
  const relationship = (endpointSpiffeId: string) => ({
    trustDomain: 'other.org',
    bundleEndpointUrl: ep.url,
    bundleEndpointProfile: 'https_spiffe' as const,
    endpointSpiffeId,
  })
  await ds.createFederationRelationship(relationship('spiffe://other.org/sigil/server'), new Date())

  const noBootstrap = await refresher.refresh('other.org')
  t.equal(noBootstrap.outcome, 'failed', 'no bundle to authenticate the endpoint with')
  t.match(noBootstrap.error, /no X\.509 bundle of other\.org/)

  // a bootstrap bundle of the wrong CA: the endpoint is not authenticated
  const impostor = await createTestCa({ trustDomain: 'other.org' })
  await ds.setBundle('other.org', { spiffeBundleJson: await bundleDoc(impostor, 0), sequenceNumber: 0 })
  t.equal(
    (await refresher.refresh('other.org')).outcome,
    'failed',
    'an endpoint outside the bootstrap bundle',
  )

  await ds.setBundle('other.org', { spiffeBundleJson: await bundleDoc(otherCa, 0), sequenceNumber: 0 })
  const ok = await refresher.refresh('other.org')
  t.equal(ok.outcome, 'stored', ok.error)
  t.equal(ok.sequenceNumber, 3)

  await ds.updateFederationRelationship(relationship('spiffe://other.org/someone/else'), new Date())
  const wrongId = await refresher.refresh('other.org')
  t.equal(wrongId.outcome, 'failed', 'a valid SVID with another SPIFFE ID is refused')
  t.match(wrongId.error, /expected spiffe:\/\/other\.org\/someone\/else/)
  t.equal((await ds.getBundle('other.org'))?.sequenceNumber, 3, 'the last good bundle stays')
  t.same(outcomes, ['failed', 'failed', 'stored', 'failed'], 'every outcome is reported (metrics)')
  t.ok(SpiffeId.parse('spiffe://other.org/sigil/server'))
})

t.test('the loop fetches due relationships, and shutting down aborts a hanging fetch at once', async (t) => {
  const dir = t.testdir()
  const pki = makeWebPki(dir)
  const ep = await startEndpoint(t, pki)
  const otherCa = await createTestCa({ trustDomain: 'other.org' })
  const doc = await bundleDoc(otherCa, 2)
  ep.answer = (res) => res.end(doc)
  const ds = await SqliteDataStore.open({ path: join(dir, 'ds.sqlite3') })
  t.teardown(() => ds.close())
  const { lines, log } = captureLog()
  const refresher = new FederationRefresher({
    datastore: ds,
    trustDomain: own,
    ownBundle: () => TrustBundle.create({ trustDomain: own }),
    logger: log,
    webCaPem: [pki.ca],
    // the hang below would last a minute unless shutting down cuts it short
    limits: { timeoutMs: 60_000, tickMs: 20, minIntervalMs: 0 },
  })
  await ds.createFederationRelationship(
    {
      trustDomain: 'other.org',
      bundleEndpointUrl: ep.url,
      bundleEndpointProfile: 'https_web',
      endpointSpiffeId: '',
    },
    new Date(),
  )
  const stop = new AbortController()
  const running = refresher.run(stop.signal)
  await waitUntil(
    'the loop storing the due bundle',
    async () => (await ds.getBundle('other.org'))?.sequenceNumber === 2,
  )
  // make it due now and let it hang
  ep.answer = () => {}
  const hitsBefore = ep.hits
  await ds.recordFederationRefresh('other.org', { at: new Date(), nextRefreshAt: new Date(), error: '' })
  await waitUntil('the loop starting the hanging fetch', () => ep.hits > hitsBefore)
  const started = Date.now()
  stop.abort()
  await running
  await waitUntil('the aborted fetch being logged', () =>
    lines.some((l) => l.level === 'warn' && /shutting down/.test(String(l.obj.err))),
  )
  t.ok(Date.now() - started < 30_000, 'stopped long before the fetch timeout')
  t.equal((await ds.getBundle('other.org'))?.sequenceNumber, 2, 'the stored bundle stays')
})
