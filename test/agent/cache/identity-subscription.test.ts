import t from 'tap'
import { IdentitySubscription } from '../../../agent/cache/identity-subscription.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'

const td = TrustDomain.parse('example.org')
const snap = (seq: number) => ({
  kind: 'identity' as const,
  snapshot: {
    svids: [],
    bundle: TrustBundle.create({ trustDomain: td, sequenceNumber: seq }),
    federatedBundles: new Map(),
  },
})

t.test('latest wins; equal updates are not repeated; close ends next()', async (t) => {
  let closed = 0
  const sub = new IdentitySubscription(false, () => closed++)
  t.ok(sub.offer(snap(1)))
  t.ok(sub.offer(snap(2)))
  t.ok(sub.offer(snap(3)))
  t.equal((await sub.next())?.kind, 'identity')
  const pending = sub.next()
  t.notOk(sub.offer(snap(3)), 'same as the last offered: skipped')
  t.ok(sub.offer(snap(4)))
  const u = await pending
  t.equal(u?.kind === 'identity' ? u.snapshot.bundle.sequenceNumber : -1, 4)
  const last = sub.next()
  sub.close()
  sub.close()
  t.equal(await last, undefined)
  t.equal(await sub.next(), undefined)
  t.equal(closed, 1)
  t.notOk(sub.offer(snap(5)), 'nothing after close')
})

t.test('the first coalesced read gets the newest update', async (t) => {
  const sub = new IdentitySubscription(false, () => {})
  sub.offer(snap(1))
  sub.offer(snap(2))
  const u = await sub.next()
  t.equal(u?.kind === 'identity' ? u.snapshot.bundle.sequenceNumber : -1, 2)
  t.throws(() => {
    void sub.next()
    void sub.next()
  }, TypeError)
})
