import { X509Certificate } from 'node:crypto'
import t from 'tap'
import type { X509SvidRequest } from '../../../agent/cache/authorized-state.js'
import { issueX509Svids } from '../../../agent/cache/x509-svid-batcher.js'
import { createFakeServer, entry } from './fake-server.js'

t.test('a failing entry does not block the others in its batch', async (t) => {
  const server = await createFakeServer()
  const a = entry({ id: 'a', path: '/a', selectors: ['unix:uid:1'] })
  const b = entry({ id: 'b', path: '/b', selectors: ['unix:uid:1'] })
  server.state([a]) // the server knows only entry a
  const out = await issueX509Svids(
    server.issuer,
    'ec-p256',
    [
      { owner: 1, entry: a },
      { owner: 1, entry: b },
    ],
    () => new Date(),
  )
  t.same(
    server.issuer.x509Calls.map((c) => c.map((r) => r.entryId)),
    [['a', 'b'], ['a'], ['b']],
  )
  t.ok('svid' in out[0]!)
  t.equal('error' in out[1]! ? (out[1].error as { code?: string }).code : '', 'ERR_NOT_AUTHORIZED')
})

t.test('unavailability fails the batch without retrying each request', async (t) => {
  const server = await createFakeServer()
  const a = entry({ id: 'a', path: '/a', selectors: ['unix:uid:1'] })
  const b = entry({ id: 'b', path: '/b', selectors: ['unix:uid:1'] })
  server.state([a, b])
  server.issuer.down = true
  const out = await issueX509Svids(
    server.issuer,
    'ec-p384',
    [
      { owner: 1, entry: a },
      { owner: 1, entry: b },
      { owner: 2, entry: a },
    ],
    () => new Date(),
  )
  t.equal(server.issuer.x509Calls.length, 2, 'two batches (entry a twice), no per-request retry')
  t.ok(out.every((o) => 'error' in o))
  server.issuer.down = false
  const ok = await issueX509Svids(server.issuer, 'ec-p384', [{ owner: 1, entry: a }], () => new Date())
  t.ok('svid' in ok[0]! && ok[0].svid.chainDer.length === 1)
})

t.test('an SVID for another identity is refused', async (t) => {
  const server = await createFakeServer()
  const a = entry({ id: 'a', path: '/a', selectors: ['unix:uid:1'] })
  server.state([{ ...a, spiffeId: 'spiffe://example.org/evil' }])
  const out = await issueX509Svids(server.issuer, 'ec-p256', [{ owner: 1, entry: a }], () => new Date())
  t.equal('error' in out[0]! ? (out[0].error as { code?: string }).code : '', 'ERR_SVID_INVALID')
})

t.test('an accepted SVID owns its memory and carries what its leaf says', async (t) => {
  const server = await createFakeServer()
  const a = entry({ id: 'a', path: '/a', selectors: ['unix:uid:1'] })
  server.state([a])
  // Like a decoded gRPC message: the chain is a view into a much larger received buffer.
  let message: Buffer | undefined
  const issuer = {
    async newX509Svids(requests: readonly X509SvidRequest[]) {
      const issued = await server.issuer.newX509Svids(requests)
      return issued.map((svid) => {
        message = Buffer.concat([Buffer.alloc(64 * 1024), ...svid.chainDer])
        return { ...svid, chainDer: [message.subarray(64 * 1024)] }
      })
    },
  }
  const [out] = await issueX509Svids(issuer, 'ec-p256', [{ owner: 1, entry: a }], () => new Date())
  if (out === undefined || !('svid' in out)) throw new Error('expected an SVID')
  const { chainDer, privateKeyPkcs8Der, serial, notAfter } = out.svid
  t.ok(chainDer[0]!.equals(message!.subarray(64 * 1024)), 'the same certificate')
  t.not(chainDer[0]!.buffer, message!.buffer, 'not a view into the received message')
  t.equal(
    chainDer[0]!.buffer.byteLength,
    chainDer[0]!.length + privateKeyPkcs8Der.length,
    'chain and key in one buffer of their own (not a slice of the shared pool)',
  )
  const leaf = new X509Certificate(chainDer[0]!)
  t.equal(serial, leaf.serialNumber.toLowerCase())
  t.equal(notAfter.getTime(), new Date(leaf.validTo).getTime())
})
