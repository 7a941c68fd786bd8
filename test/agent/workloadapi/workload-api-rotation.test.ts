// Rotation on open streams with short real TTLs, and an issuer outage: cached SVIDs keep being
// served, rotation resumes without restart, and no client ever receives an expired SVID.
import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { splitConcatenatedDer } from '../../../certs/x509svid/parse-x509-svid.js'
import type { X509SVIDResponse__Output } from '../../../proto/generated/X509SVIDResponse.js'
import { entry } from '../cache/fake-server.js'
import { collect, firstMessage, md, startHarness } from './harness.js'

interface Received {
  serial: string
  notAfter: number
  receivedAt: number
  verifies: boolean
}

function inspect(res: X509SVIDResponse__Output, receivedAt: number): Received {
  const svid = res.svids[0]!
  const leaf = new X509Certificate(splitConcatenatedDer(svid.x509_svid)[0]!)
  const root = new X509Certificate(splitConcatenatedDer(svid.bundle)[0]!)
  return {
    serial: leaf.serialNumber,
    notAfter: Date.parse(leaf.validTo),
    receivedAt,
    verifies: leaf.verify(root.publicKey),
  }
}

t.test('a stream receives rotated SVIDs, each valid against its bundle and unexpired', async (t) => {
  const h = await startHarness(t, {
    entries: ({ uid }) => [entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`], x509SvidTtl: 5 })],
  })
  const s = collect(h.client().FetchX509SVID({}, md()))
  const got: Received[] = []
  while (got.length < 3) got.push(inspect(await s.next(), Date.now()))
  t.equal(new Set(got.map((g) => g.serial)).size, 3, 'three different serials: two pushed rotations')
  for (const g of got) {
    t.ok(g.verifies, 'verifies against the bundle it came with')
    t.ok(g.notAfter > g.receivedAt, 'not expired when received')
  }
})

t.test('issuer down: cached SVIDs are served, rotation resumes, nothing expired is sent', async (t) => {
  const h = await startHarness(t, {
    entries: ({ uid }) => [entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`], x509SvidTtl: 8 })],
  })
  const client = h.client()
  const s = collect(client.FetchX509SVID({}, md()))
  const first = inspect(await s.next(), Date.now())
  h.server.issuer.down = true
  const calls = h.server.issuer.x509Calls.length
  // Wait past the renewal point (about 4 s in): renewals fail meanwhile.
  await new Promise((r) => setTimeout(r, 5_000))
  t.ok(h.server.issuer.x509Calls.length > calls, 'renewal was attempted while the issuer was down')
  const cached = inspect(await firstMessage(client.FetchX509SVID({}, md())), Date.now())
  t.equal(cached.serial, first.serial, 'a new stream of the same process gets the cached SVID')
  t.ok(cached.notAfter > cached.receivedAt, 'still valid')
  t.equal(s.count, 0, 'no push while the issuer is down')
  h.server.issuer.down = false
  const rotated = inspect(await s.next(), Date.now())
  t.not(rotated.serial, first.serial, 'rotated once the issuer is back, without restart')
  t.ok(rotated.notAfter > rotated.receivedAt)
  t.ok(rotated.verifies)
  t.ok(rotated.receivedAt < first.notAfter, 'before the old SVID expired')
})
