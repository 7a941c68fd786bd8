// The agent's revocation list: snapshots replace, deltas add, expiry counts, unknown kinds are
// ignored, listeners hear changes; and the ValidateJWTSVID claim check on top of it.
import t from 'tap'
import { RevocationSet } from '../../../agent/cache/revocation-set.js'
import { refuseRevokedClaims } from '../../../agent/workloadapi/revoked-claims.js'

t.test('snapshot, delta, expiry and unknown kinds', async (t) => {
  let now = 1_000_000
  const set = new RevocationSet({ clockMs: () => now })
  const seen: number[] = []
  set.onChange((s) => seen.push(s))
  set.apply({
    snapshot: true,
    sequence: 2,
    revoked: [
      { kind: 'jwt_jti', value: 'a', expiresAtMs: now + 1000 },
      { kind: 'password', value: 'x', expiresAtMs: now + 1000 },
    ],
  })
  t.ok(set.isRevoked('jwt_jti', 'a'))
  t.notOk(set.isRevoked('txn', 'a'), 'kinds are separate')
  t.equal(set.size, 1, 'an unknown kind is ignored')
  set.apply({ snapshot: false, sequence: 3, revoked: [{ kind: 'txn', value: 't', expiresAtMs: now + 5000 }] })
  t.ok(set.isRevoked('jwt_jti', 'a'), 'a delta adds')
  t.ok(set.isRevoked('txn', 't'))
  set.apply({ snapshot: false, sequence: 3, revoked: [] })
  t.same(seen, [2, 3], 'an update that changes nothing is not announced')
  now += 2000
  t.notOk(set.isRevoked('jwt_jti', 'a'), 'an expired revocation no longer counts')
  set.apply({
    snapshot: true,
    sequence: 4,
    revoked: [{ kind: 'x509_serial', value: 'ab', expiresAtMs: now + 1 }],
  })
  t.notOk(set.isRevoked('txn', 't'), 'a snapshot replaces everything')
  t.same([...set.serials().keys()], ['ab'])
  t.equal(set.sequence, 4)
})

t.test('refuseRevokedClaims refuses a revoked jti or txn with ERR_SVID_REVOKED', async (t) => {
  const set = new RevocationSet()
  const far = Date.now() + 60_000
  set.apply({
    snapshot: true,
    sequence: 1,
    revoked: [
      { kind: 'jwt_jti', value: 'j1', expiresAtMs: far },
      { kind: 'txn', value: 'task-1', expiresAtMs: far },
    ],
  })
  t.throws(() => refuseRevokedClaims(set, { jti: 'j1' }), { code: 'ERR_SVID_REVOKED', message: /jti j1/ })
  t.throws(() => refuseRevokedClaims(set, { jti: 'j2', txn: 'task-1' }), {
    code: 'ERR_SVID_REVOKED',
    message: /transaction has been revoked \(txn task-1\)/,
  })
  t.doesNotThrow(() => refuseRevokedClaims(set, { jti: 'j2', txn: 'task-2' }))
  t.doesNotThrow(
    () => refuseRevokedClaims(set, { jti: 42, txn: ['task-1'] }),
    'non-string claims are not looked up',
  )
})
