// Conformance: join tokens (hashed, single use, expiry, tombstones, pruning).
import type { Test } from 'tap'
import { after, type MakeStore, openStore, TD, tokenHash } from './fixtures.js'

const NOW = new Date('2030-06-01T12:00:00.000Z')

export function joinTokenTests(t: Test, makeStore: MakeStore): void {
  t.test('a join token works once; the second use is ERR_TOKEN_USED', async (t) => {
    const ds = await openStore(t, makeStore)
    const plain = tokenHash()
    const aliased = tokenHash()
    await ds.createJoinToken({ tokenHash: plain, spiffeId: '', expiresAt: after(NOW, 600) })
    await ds.createJoinToken({ tokenHash: aliased, spiffeId: `${TD}/node/n1`, expiresAt: after(NOW, 600) })
    t.same(await ds.consumeJoinToken(plain, NOW), { spiffeId: '' })
    await t.rejects(ds.consumeJoinToken(plain, NOW), { code: 'ERR_TOKEN_USED' })
    await t.rejects(ds.consumeJoinToken(plain, after(NOW, 1)), { code: 'ERR_TOKEN_USED' })
    t.same(await ds.consumeJoinToken(aliased, after(NOW, 599)), { spiffeId: `${TD}/node/n1` })
    await t.rejects(ds.consumeJoinToken(tokenHash(), NOW), { code: 'ERR_TOKEN_INVALID' }, 'unknown')
  })

  t.test('two concurrent uses: exactly one wins', async (t) => {
    const ds = await openStore(t, makeStore)
    const h = tokenHash()
    await ds.createJoinToken({ tokenHash: h, spiffeId: '', expiresAt: after(NOW, 600) })
    const results = await Promise.allSettled([ds.consumeJoinToken(h, NOW), ds.consumeJoinToken(h, NOW)])
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    const rejected = results.find((r) => r.status === 'rejected')
    t.match(rejected, { reason: { code: 'ERR_TOKEN_USED' } })
  })

  t.test('an expired token is refused and deleted', async (t) => {
    const ds = await openStore(t, makeStore)
    const old = tokenHash()
    const edge = tokenHash()
    await ds.createJoinToken({ tokenHash: old, spiffeId: '', expiresAt: after(NOW, -1) })
    await ds.createJoinToken({ tokenHash: edge, spiffeId: '', expiresAt: NOW })
    await t.rejects(ds.consumeJoinToken(old, NOW), { code: 'ERR_TOKEN_EXPIRED' })
    await t.rejects(ds.consumeJoinToken(old, after(NOW, -60)), { code: 'ERR_TOKEN_INVALID' }, 'deleted')
    await t.rejects(
      ds.consumeJoinToken(edge, NOW),
      { code: 'ERR_TOKEN_EXPIRED' },
      'expiresAt == now is expired',
    )
  })

  t.test('createJoinToken refuses a stored or used hash, and anything but a hash', async (t) => {
    const ds = await openStore(t, makeStore)
    const h = tokenHash()
    await ds.createJoinToken({ tokenHash: h, spiffeId: '', expiresAt: after(NOW, 600) })
    await t.rejects(ds.createJoinToken({ tokenHash: h, spiffeId: '', expiresAt: after(NOW, 600) }), {
      code: 'ERR_TOKEN_INVALID',
    })
    await ds.consumeJoinToken(h, NOW)
    await t.rejects(ds.createJoinToken({ tokenHash: h, spiffeId: '', expiresAt: after(NOW, 600) }), {
      code: 'ERR_TOKEN_USED',
    })
    for (const bad of ['s3cr3t-token', h.toUpperCase(), `${h}00`, '']) {
      await t.rejects(ds.createJoinToken({ tokenHash: bad, spiffeId: '', expiresAt: NOW }), TypeError, bad)
      await t.rejects(ds.consumeJoinToken(bad, NOW), TypeError, bad)
    }
  })

  t.test('pruneExpiredJoinTokens removes expired tokens and old tombstones only', async (t) => {
    const ds = await openStore(t, makeStore)
    const expired = tokenHash()
    const valid = tokenHash()
    const used = tokenHash()
    await ds.createJoinToken({ tokenHash: expired, spiffeId: '', expiresAt: after(NOW, -10) })
    await ds.createJoinToken({ tokenHash: valid, spiffeId: '', expiresAt: after(NOW, 600) })
    await ds.createJoinToken({ tokenHash: used, spiffeId: '', expiresAt: after(NOW, 60) })
    await ds.consumeJoinToken(used, NOW)
    t.equal(await ds.pruneExpiredJoinTokens(NOW), 1)
    await t.rejects(ds.consumeJoinToken(expired, NOW), { code: 'ERR_TOKEN_INVALID' })
    await t.rejects(
      ds.consumeJoinToken(used, NOW),
      { code: 'ERR_TOKEN_USED' },
      'tombstone kept while unexpired',
    )
    t.equal(await ds.pruneExpiredJoinTokens(after(NOW, 120)), 0)
    await t.rejects(
      ds.consumeJoinToken(used, after(NOW, 120)),
      { code: 'ERR_TOKEN_INVALID' },
      'still refused',
    )
    t.same(
      await ds.consumeJoinToken(valid, after(NOW, 120)),
      { spiffeId: '' },
      'a valid token survives pruning',
    )
  })
}
