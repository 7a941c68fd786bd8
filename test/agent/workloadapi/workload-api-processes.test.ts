// Real child `node` processes as Workload API clients, identified by the kernel and /proc only:
// different scripts get different SPIFFE IDs; two runs of one script share a SPIFFE ID but never a
// key; a killed process's SVIDs leave the cache and are never re-served.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { entry } from '../cache/fake-server.js'
import { type ChildMessage, eventually, startHarness } from './harness.js'

function only(m: ChildMessage) {
  const svid = m.svids?.[0]
  if (svid === undefined || m.svids?.length !== 1)
    throw new Error(`expected one SVID, got ${JSON.stringify(m)}`)
  const leaf = new X509Certificate(Buffer.from(svid.x509_svid, 'base64').subarray(0, undefined))
  const key = createPrivateKey({ key: Buffer.from(svid.key, 'base64'), format: 'der', type: 'pkcs8' })
  return { spiffeId: svid.spiffe_id, serial: leaf.serialNumber, key: svid.key, leaf, privateKey: key }
}

t.test('processes are told apart by their script; each instance has its own key', async (t) => {
  const h = await startHarness(t, {
    entries: ({ dir }) => [
      entry({ id: 'a', path: '/service-a', selectors: [`proc:script:${join(dir, 'a.mjs')}`] }),
      entry({ id: 'b', path: '/service-b', selectors: [`proc:script:${join(dir, 'b.mjs')}`] }),
    ],
  })
  const a1 = h.spawnChild('a.mjs')
  const b1 = h.spawnChild('b.mjs')
  const a2 = h.spawnChild(join(h.dir, 'a.mjs'))
  const [ma1, mb1, ma2] = [only(await a1.next()), only(await b1.next()), only(await a2.next())]
  t.equal(ma1.spiffeId, 'spiffe://example.org/service-a')
  t.equal(mb1.spiffeId, 'spiffe://example.org/service-b', 'a different script, a different SPIFFE ID')
  t.equal(ma2.spiffeId, ma1.spiffeId, 'the same script, the same SPIFFE ID')
  t.not(ma2.serial, ma1.serial, 'but another serial')
  t.not(ma2.key, ma1.key, 'and another key')
  for (const m of [ma1, mb1, ma2]) {
    t.ok(
      createPublicKey(m.privateKey)
        .export({ type: 'spki', format: 'der' })
        .equals(m.leaf.publicKey.export({ type: 'spki', format: 'der' })),
    )
    t.ok(m.leaf.verify(new X509Certificate(h.server.ca.rootDer).publicKey))
  }
  t.equal(h.cache.stats().processes, 3)
  t.equal(h.cache.stats().x509Svids, 3)

  // Kill one instance: its SVID leaves the cache; a new instance gets a new key and serial.
  const killedPid = a1.process.pid
  await a1.kill()
  t.ok(await eventually(() => h.cache.stats().processes === 2), "the killed process's SVIDs are dropped")
  t.equal(h.cache.stats().x509Svids, 2)
  t.ok(
    h.lines.some((l) => (l.obj as { pid?: number }).pid === killedPid && /released|exited/.test(l.msg)),
    'logged with its pid',
  )
  const a3 = h.spawnChild('a.mjs')
  const ma3 = only(await a3.next())
  t.equal(ma3.spiffeId, ma1.spiffeId)
  t.not(ma3.serial, ma1.serial, 'nothing of the killed process is re-served')
  t.not(ma3.key, ma1.key)
  t.ok(await eventually(() => h.cache.stats().processes === 3))
})

t.test('a child that matches nothing gets PERMISSION_DENIED', async (t) => {
  const h = await startHarness(t, {
    entries: ({ dir }) => [
      entry({ id: 'a', path: '/service-a', selectors: [`proc:script:${join(dir, 'a.mjs')}`] }),
    ],
  })
  const b = h.spawnChild('b.mjs')
  t.same(await b.next(), { code: 7, details: 'no identity issued' })
  const a = h.spawnChild('a.mjs')
  t.equal(only(await a.next()).spiffeId, 'spiffe://example.org/service-a')
})

t.test('removing the entry ends the stream with PERMISSION_DENIED', async (t) => {
  const h = await startHarness(t, {
    entries: ({ dir }) => [
      entry({ id: 'a', path: '/service-a', selectors: [`proc:script:${join(dir, 'a.mjs')}`] }),
    ],
  })
  const a = h.spawnChild('a.mjs')
  only(await a.next())
  h.cache.update(h.server.state([]))
  t.same(await a.next(), { code: 7, details: 'no identity issued' })
})
