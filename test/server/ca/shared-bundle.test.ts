// The shared-bundle merge rule (issue 15): several servers on one datastore each contribute their
// own authorities; a server changes only its own part, other servers' authorities stay until they
// expire, and --allow-new-ca replaces them.
import t from 'tap'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { mergeSharedBundle, OwnedAuthorities } from '../../../server/ca/shared-bundle.js'
import { keyPair, makeCa } from '../../certs/bundle/fixtures.js'

const td = TrustDomain.parse('example.org')
const now = new Date()
const caA1 = makeCa('ec-p256', 'server A 1')
const caA2 = makeCa('ec-p256', 'server A 2')
const caB = makeCa('ec-p256', 'server B')
const jwt = (kid: string) => ({ kid, publicKey: keyPair('ec-p256').publicKey })
const jwtA = jwt('kid-a')
const jwtB = jwt('kid-b')

const bundle = (
  x509: Buffer[],
  jwts: { kid: string; publicKey: import('node:crypto').KeyObject }[],
  seq = 0,
) => TrustBundle.create({ trustDomain: td, x509Authorities: x509, jwtAuthorities: jwts, sequenceNumber: seq })

t.test("another server's authorities stay; this server's part becomes exactly what it wants", async (t) => {
  const owned = new OwnedAuthorities()
  const first = bundle([caA1.der], [jwtA])
  owned.add(first)
  const stored = bundle([caB.der, caA1.der], [jwtB, jwtA], 7)
  // A rotated: its old CA dropped, a new one added
  const desired = bundle([caA2.der], [jwtA])
  owned.add(desired)
  const merged = mergeSharedBundle({ stored, desired, owned, now })
  t.ok(merged.hasX509Authority(caB.der), "B's CA kept")
  t.ok(merged.hasX509Authority(caA2.der), "A's new CA added")
  t.notOk(merged.hasX509Authority(caA1.der), "A's dropped CA removed")
  t.ok(merged.findJwtAuthority('kid-b'), "B's JWT key kept")
  t.ok(merged.findJwtAuthority('kid-a'), "A's JWT key kept")
  t.equal(merged.sequenceNumber, 7, 'the caller bumps the sequence, not the merge')
})

t.test('an unchanged contribution merges to an equal bundle (no sequence bump, no write)', async (t) => {
  const owned = new OwnedAuthorities()
  const desired = bundle([caA1.der], [jwtA])
  owned.add(desired)
  const stored = bundle([caB.der, caA1.der], [jwtB, jwtA], 3)
  const merged = mergeSharedBundle({ stored, desired, owned, now })
  t.ok(merged.equals(stored))
  t.same(
    merged.x509Authorities.map((d) => d.toString('base64')),
    stored.x509Authorities.map((d) => d.toString('base64')),
    'stored order kept',
  )
})

t.test("another server's X.509 CA leaves once its certificate has expired", async (t) => {
  const owned = new OwnedAuthorities()
  const desired = bundle([caA1.der], [jwtA])
  owned.add(desired)
  const stored = bundle([caB.der, caA1.der], [jwtB, jwtA], 3)
  const later = new Date(now.getTime() + 200 * 365 * 86400_000)
  const merged = mergeSharedBundle({ stored, desired, owned, now: later })
  t.notOk(merged.hasX509Authority(caB.der), 'expired foreign CA dropped')
  t.ok(merged.hasX509Authority(caA1.der), 'own CA is what this server wants (its rotation drops it)')
})

t.test('replaceForeign (--allow-new-ca) drops every other authority', async (t) => {
  const owned = new OwnedAuthorities()
  const desired = bundle([caA2.der], [jwtA])
  owned.add(desired)
  const stored = bundle([caB.der], [jwtB], 9)
  const merged = mergeSharedBundle({ stored, desired, owned, now, replaceForeign: true })
  t.same(
    merged.x509Authorities.map((d) => d.toString('base64')),
    [caA2.der.toString('base64')],
  )
  t.same(
    merged.jwtAuthorities.map((a) => a.kid),
    ['kid-a'],
  )
})

t.test('no stored bundle: the desired one', async (t) => {
  const owned = new OwnedAuthorities()
  const desired = bundle([caA1.der], [jwtA])
  owned.add(desired)
  const merged = mergeSharedBundle({ stored: undefined, desired, owned, now })
  t.ok(merged.equals(desired))
})
