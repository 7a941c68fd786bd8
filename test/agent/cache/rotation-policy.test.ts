import t from 'tap'
import {
  checkRotationFraction,
  isServable,
  renewalTime,
  renewTogether,
  shouldRenew,
  svidNeed,
  x509RenewalTime,
} from '../../../agent/cache/rotation-policy.js'
import { retryDelayMs } from '../../../common/loop/backoff.js'

t.test('renewal at the fraction of the lifetime, ±10%', async (t) => {
  const issued = new Date('2026-01-01T00:00:00Z')
  const notAfter = new Date(issued.getTime() + 1000_000)
  const at = (random: number) => notAfter.getTime() - renewalTime(issued, notAfter, 0.5, random).getTime()
  t.equal(at(0.5), 500_000, 'half the life remains')
  t.equal(at(0), 450_000, 'jitter down to 45%')
  t.ok(Math.abs(at(0.999999) - 550_000) < 1, 'jitter up to 55%')
  t.equal(notAfter.getTime() - renewalTime(issued, notAfter, 0.2, 0.5).getTime(), 200_000)
  t.ok(shouldRenew(new Date(notAfter.getTime() - 400_000), renewalTime(issued, notAfter, 0.5, 0.5)))
  t.notOk(shouldRenew(new Date(notAfter.getTime() - 600_000), renewalTime(issued, notAfter, 0.5, 0.5)))
})

t.test('a process renews together: nothing until one is due, then all past half their way', async (t) => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s))
  const held = [
    { issuedAt: at(0), renewAt: at(50) }, // due first
    { issuedAt: at(0), renewAt: at(54) }, // same batch, another jitter draw
    { issuedAt: at(30), renewAt: at(80) }, // added later: 20 of its 50 s to go at 50 s
    { issuedAt: at(10), renewAt: at(60) }, // 40 of its 50 s gone at 50 s
  ]
  t.same(renewTogether(at(49), held), [false, false, false, false], 'none due: none renewed')
  t.same(renewTogether(at(50), held), [true, true, false, true], 'one due: the others past half come along')
  t.same(renewTogether(at(81), held), [true, true, true, true])
  t.same(renewTogether(at(50), []), [])
  const late = [
    { issuedAt: at(50), renewAt: at(100) },
    { issuedAt: at(30), renewAt: at(80) },
  ]
  t.same(renewTogether(at(80), late), [true, true], 'the straggler pulls the group along next time')
})

t.test(
  'one due test: missing (none or an older revision), due at its renewal time, else current',
  async (t) => {
    const held = { revision: 2, renewAt: new Date(50_000) }
    t.equal(svidNeed(undefined, 2, new Date(0)), 'missing')
    t.equal(svidNeed(held, 3, new Date(0)), 'missing', 'held for an older revision')
    t.equal(svidNeed(held, 2, new Date(49_999)), 'current')
    t.equal(svidNeed(held, 2, new Date(50_000)), 'due')
  },
)

t.test('an X509-SVID is never renewed sooner than a second after it was requested', async (t) => {
  const issued = new Date(0)
  t.equal(x509RenewalTime(issued, new Date(1_500), 0.5, 0.5).getTime(), 1_000)
  t.equal(x509RenewalTime(issued, new Date(100_000), 0.5, 0.5).getTime(), 50_000)
})

t.test('an SVID with under a second left is not served', async (t) => {
  const notAfter = new Date('2026-01-01T00:00:10Z')
  t.ok(isServable(new Date('2026-01-01T00:00:08Z'), notAfter))
  t.notOk(isServable(new Date('2026-01-01T00:00:09.500Z'), notAfter))
  t.notOk(isServable(new Date('2026-01-01T00:00:11Z'), notAfter))
})

t.test('retry delays double up to the cap, with jitter', async (t) => {
  t.equal(retryDelayMs(1, 500, 5000, 0.5), 500)
  t.equal(retryDelayMs(2, 500, 5000, 0.5), 1000)
  t.equal(retryDelayMs(4, 500, 5000, 0.5), 4000)
  t.equal(retryDelayMs(50, 500, 5000, 0.5), 5000)
  t.equal(retryDelayMs(1, 500, 5000, 0), 400)
})

t.test('rotation fraction must be in (0, 1)', async (t) => {
  t.equal(checkRotationFraction(0.5), 0.5)
  for (const bad of [0, 1, -1, Number.NaN]) t.throws(() => checkRotationFraction(bad), TypeError)
})
