// What the server sends an agent about revocations: a snapshot for an empty or ahead agent, a
// delta otherwise, cut into pieces whose sequence numbers let a broken stream resume.
import t from 'tap'
import { revocationPieces } from '../../../../server/api/agent/revocation-updates.js'
import type { RevocationRecord } from '../../../../server/datastore/records.js'

function list(n: number) {
  const records: RevocationRecord[] = Array.from({ length: n }, (_, i) => ({
    kind: 'jwt_jti',
    value: `j${i + 1}`,
    reason: '',
    sequence: i + 1,
    revokedAt: new Date(0),
    expiresAt: new Date(60_000),
  }))
  return {
    sequence: n,
    snapshot: () => records,
    since: (s: number) => records.filter((r) => r.sequence > s),
  }
}

t.test('snapshot, delta, nothing new, and an agent ahead of the server', async (t) => {
  const l = list(5)
  t.match(revocationPieces(l, 0), [{ snapshot: true, sequence: 5, more: false, revoked: { length: 5 } }])
  t.match(revocationPieces(l, 3), [
    {
      snapshot: false,
      sequence: 5,
      more: false,
      revoked: [{ kind: 'jwt_jti', value: 'j4', expires_at: 60 }, {}],
    },
  ])
  t.same(revocationPieces(l, 5), [{ snapshot: false, sequence: 5, revoked: [], more: false }])
  t.match(revocationPieces(l, 9), [{ snapshot: true, sequence: 5 }], 'ahead: the server was restored')
  t.same(revocationPieces(list(0), 0), [{ snapshot: true, sequence: 0, revoked: [], more: false }])
})

t.test('large lists are cut into pieces that can be resumed', async (t) => {
  const pieces = revocationPieces(list(7), 0, 3)
  t.same(
    pieces.map((p) => [p.snapshot, p.sequence, p.revoked?.length, p.more]),
    [
      [true, 3, 3, true],
      [false, 6, 3, true],
      [false, 7, 1, false],
    ],
  )
})
