import t from 'tap'
import { type CachedJwtSvid, JwtSvidCache, jwtCacheKey } from '../../../agent/cache/jwt-svid-cache.js'

const item = (processKey: string, expiresAt: number): CachedJwtSvid => ({
  processKey,
  spiffeId: 'spiffe://example.org/web',
  token: `token-${processKey}-${expiresAt}`,
  expiresAt: new Date(expiresAt),
  renewAt: new Date(expiresAt - 1000),
  jti: `jti-${processKey}-${expiresAt}`,
})

t.test('keys ignore audience order but not process, identity or audience', async (t) => {
  const k = jwtCacheKey('1:1', 'spiffe://example.org/a', ['x', 'y'])
  t.equal(jwtCacheKey('1:1', 'spiffe://example.org/a', ['y', 'x']), k)
  t.not(jwtCacheKey('2:1', 'spiffe://example.org/a', ['x', 'y']), k)
  t.not(jwtCacheKey('1:1', 'spiffe://example.org/b', ['x', 'y']), k)
  t.not(jwtCacheKey('1:1', 'spiffe://example.org/a', ['xy']), k)
  t.not(
    jwtCacheKey('1:1', 'spiffe://example.org/a', ['x']),
    jwtCacheKey('1:1x', 'spiffe://example.org/a', []),
  )
})

t.test('LRU bound, per-process deletion and pruning', async (t) => {
  const c = new JwtSvidCache(2)
  c.set('a', item('p1', 10_000))
  c.set('b', item('p2', 20_000))
  c.get('a')
  c.set('c', item('p1', 30_000))
  t.equal(c.size, 2)
  t.ok(c.get('a') && c.get('c'), 'least recently used (b) evicted')
  t.equal(c.get('b'), undefined)
  c.prune(new Date(15_000))
  t.equal(c.get('a'), undefined, 'expired pruned')
  c.deleteProcess('p1')
  t.equal(c.size, 0)
  t.throws(() => new JwtSvidCache(0), TypeError)
})

t.test('deleteRevoked drops tokens whose jti is revoked', async (t) => {
  const c = new JwtSvidCache(10)
  c.set('a', item('1:1', 5000))
  c.set('b', item('2:1', 5000))
  c.set('c', { ...item('3:1', 5000), jti: '' })
  t.equal(
    c.deleteRevoked((jti) => jti === 'jti-1:1-5000' || jti === ''),
    1,
    'a token without a jti is never matched',
  )
  t.equal(c.get('a'), undefined)
  t.ok(c.get('b'))
  t.ok(c.get('c'))
})
