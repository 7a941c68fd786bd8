import t from 'tap'
import {
  ACTIVATE_NEXT_CAP_MS,
  dropFromBundleAt,
  isUsable,
  PREPARE_NEXT_CAP_MS,
  publicationLeadMs,
  RETIRED_GRACE_CAP_MS,
  retiredGraceMs,
  rotationIntervalMs,
  shouldActivateNext,
  shouldDropFromBundle,
  shouldPrepareNext,
} from '../../../server/ca/rotation.js'

const S = 1000
const H = 3600 * S
const D = 24 * H
const at = (ms: number) => new Date(ms)
const span = (notBefore: number, notAfter: number) => ({ notBefore: at(notBefore), notAfter: at(notAfter) })

t.test('shouldPrepareNext: remaining life <= lifetime/2 (capped at 30 days)', async (t) => {
  const cases: [string, number, { notBefore: Date; notAfter: Date }, boolean][] = [
    ['fresh', 0, span(0, 24 * H), false],
    ['just before half', 12 * H - 1, span(0, 24 * H), false],
    ['exactly half', 12 * H, span(0, 24 * H), true],
    ['after half', 20 * H, span(0, 24 * H), true],
    ['expired', 25 * H, span(0, 24 * H), true],
    ['tiny lifetime, before half', 2999, span(0, 6 * S), false],
    ['tiny lifetime, at half', 3 * S, span(0, 6 * S), true],
    ['long lifetime, cap not reached', 300 * D, span(0, 365 * D), false],
    ['long lifetime, within the 30-day cap', 365 * D - PREPARE_NEXT_CAP_MS, span(0, 365 * D), true],
    ['long lifetime, a day before the cap', 365 * D - PREPARE_NEXT_CAP_MS - D, span(0, 365 * D), false],
  ]
  for (const [name, now, v, want] of cases) t.equal(shouldPrepareNext(at(now), v), want, name)
})

t.test('shouldActivateNext: remaining life <= lifetime/6, i.e. at 5/6 (capped at 7 days)', async (t) => {
  const cases: [string, number, { notBefore: Date; notAfter: Date }, boolean][] = [
    ['fresh', 0, span(0, 24 * H), false],
    ['at half', 12 * H, span(0, 24 * H), false],
    ['just before 5/6', 20 * H - 1, span(0, 24 * H), false],
    ['at 5/6', 20 * H, span(0, 24 * H), true],
    ['expired', 30 * H, span(0, 24 * H), true],
    ['tiny lifetime at 5/6', 5 * S, span(0, 6 * S), true],
    ['tiny lifetime before 5/6', 4999, span(0, 6 * S), false],
    ['long lifetime, before the 7-day cap', 365 * D - ACTIVATE_NEXT_CAP_MS - 1, span(0, 365 * D), false],
    ['long lifetime, at the 7-day cap', 365 * D - ACTIVATE_NEXT_CAP_MS, span(0, 365 * D), true],
  ]
  for (const [name, now, v, want] of cases) t.equal(shouldActivateNext(at(now), v), want, name)
})

t.test('preparation always comes before activation', async (t) => {
  for (const lifetime of [6 * S, 90 * S, H, D, 30 * D, 400 * D]) {
    for (let f = 0; f <= 1; f += 0.01) {
      const now = at(Math.floor(lifetime * f))
      if (shouldActivateNext(now, span(0, lifetime))) {
        t.ok(shouldPrepareNext(now, span(0, lifetime)), `lifetime ${lifetime} at ${f.toFixed(2)}`)
      }
    }
  }
})

t.test('isUsable: notBefore <= now < notAfter', async (t) => {
  const v = span(10, 20)
  t.equal(isUsable(at(9), v), false, 'before notBefore')
  t.equal(isUsable(at(10), v), true, 'at notBefore')
  t.equal(isUsable(at(19), v), true, 'inside')
  t.equal(isUsable(at(20), v), false, 'at notAfter')
})

t.test('shouldDropFromBundle: retired keys stay until their last SVID expires, plus grace', async (t) => {
  const small = span(0, 60 * S) // grace = 5 s
  const big = span(0, 24 * H) // grace = 5 min (cap)
  t.equal(retiredGraceMs(small), 5 * S)
  t.equal(retiredGraceMs(big), RETIRED_GRACE_CAP_MS)
  const cases: [string, number, { notBefore: Date; notAfter: Date }, Date | undefined, boolean][] = [
    ['signed until 30 s, at 34.999 s', 34_999, small, at(30 * S), false],
    ['signed until 30 s, at 35 s', 35 * S, small, at(30 * S), true],
    ['unknown signedUntil counts as notAfter', 64_999, small, undefined, false],
    ['unknown signedUntil, after notAfter + grace', 65 * S, small, undefined, true],
    ['signedUntil beyond notAfter is clamped to notAfter', 65 * S, small, at(90 * S), true],
    ['nothing signed yet (signedUntil = activation)', 10 * S, small, at(5 * S), true],
    ['24 h CA, SVID until 21 h, at 21 h + 4 min', 21 * H + 4 * 60 * S, big, at(21 * H), false],
    ['24 h CA, SVID until 21 h, at 21 h + 5 min', 21 * H + 5 * 60 * S, big, at(21 * H), true],
  ]
  for (const [name, now, v, signedUntil, want] of cases) {
    t.equal(shouldDropFromBundle(at(now), v, signedUntil), want, name)
  }
  t.same(dropFromBundleAt(small, at(30 * S)), at(35 * S))
})

t.test('rotationIntervalMs: lifetime/100 within [100 ms, 10 s]', async (t) => {
  t.equal(rotationIntervalMs(86_400), 10_000)
  t.equal(rotationIntervalMs(600), 6_000)
  t.equal(rotationIntervalMs(6), 100)
})

t.test('publicationLeadMs: time between publishing and activating a successor', async (t) => {
  t.equal(publicationLeadMs(24 * H), 8 * H, '24 h CA: published at 12 h, active at 20 h')
  t.equal(publicationLeadMs(60 * S), 20 * S)
  t.equal(publicationLeadMs(365 * D), PREPARE_NEXT_CAP_MS - ACTIVATE_NEXT_CAP_MS, 'both caps apply')
})
