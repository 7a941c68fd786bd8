// JWT-SVIDs from the identity cache: minted per process, SPIFFE ID and sorted audience, cached
// until half their life, served from cache while the server is down, bounded in number.
import t from 'tap'
import { codeOf, setup } from './cache-setup.js'
import { entry } from './fake-server.js'

const UID = 'unix:uid:1000'

t.test('JWT-SVIDs: per process, SPIFFE ID and sorted audience; cached until half-life', async (t) => {
  const { mc, server, cache, proc } = await setup(t)
  const e = entry({ id: 'a', path: '/web', selectors: [UID], jwtSvidTtl: 300 })
  const p = proc(70, 1, [UID])
  t.equal(await codeOf(cache.fetchJwtSvids(p, ['x'])), 'ERR_UNAVAILABLE')
  cache.update(server.state([e, entry({ id: 'b', path: '/web', selectors: ['unix:gid:5'] })]))
  const release = cache.retain(p)
  const [first] = await cache.fetchJwtSvids(p, ['b', 'a'])
  t.equal(first?.spiffeId, 'spiffe://example.org/web')
  const [same] = await cache.fetchJwtSvids(p, ['a', 'b'])
  t.equal(same?.token, first?.token, 'cached regardless of audience order')
  t.equal(server.issuer.jwtCalls.length, 1)
  const other = proc(71, 1, [UID])
  const [theirs] = await cache.fetchJwtSvids(other, ['a', 'b'])
  t.not(theirs?.token, first?.token, 'another process gets its own token')
  t.equal(cache.stats().jwtSvids, 1, 'tokens of a process nobody holds are not kept')

  t.equal(await codeOf(cache.fetchJwtSvids(p, [])), 'ERR_INVALID_ARGUMENT')
  t.equal(await codeOf(cache.fetchJwtSvids(p, ['a'], 'spiffe://example.org/db')), 'ERR_NOT_AUTHORIZED')
  t.equal(await codeOf(cache.fetchJwtSvids(proc(72, 1, ['unix:uid:9']), ['a'])), 'ERR_NOT_AUTHORIZED')

  mc.advance(160_000)
  const [renewed] = await cache.fetchJwtSvids(p, ['a', 'b'])
  t.not(renewed?.token, first?.token, 're-minted after half its life')
  server.issuer.down = true
  mc.advance(160_000)
  const [fallback] = await cache.fetchJwtSvids(p, ['a', 'b'])
  t.equal(fallback?.token, renewed?.token, 'server down: the unexpired cached token is served')
  t.equal(await codeOf(cache.fetchJwtSvids(p, ['c'])), 'ERR_UNAVAILABLE')
  mc.advance(140_000)
  t.equal(await codeOf(cache.fetchJwtSvids(p, ['a', 'b'])), 'ERR_UNAVAILABLE')
  release()
  t.equal(cache.stats().jwtSvids, 0, 'dropped with the process')
})

t.test('the JWT-SVID cache is bounded (LRU)', async (t) => {
  const { server, cache, proc } = await setup(t, { jwtCacheSize: 2 })
  cache.update(server.state([entry({ id: 'a', path: '/web', selectors: [UID] })]))
  const p = proc(80, 1, [UID])
  const release = cache.retain(p)
  for (const aud of ['x', 'y', 'z']) await cache.fetchJwtSvids(p, [aud])
  t.equal(cache.stats().jwtSvids, 2)
  await cache.fetchJwtSvids(p, ['z'])
  t.equal(server.issuer.jwtCalls.length, 3, 'recent token reused')
  await cache.fetchJwtSvids(p, ['x'])
  t.equal(server.issuer.jwtCalls.length, 4, 'evicted token re-minted')
  release()
})
