// The log rate limiter: repeats of one (message, key) within a window become one line plus a
// "suppressed" count, other keys are independent, and the number of tracked keys is capped.
import t from 'tap'
import { LogRateLimiter } from '../../../common/logging/log-rate-limiter.js'

function setup(maxKeys?: number) {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = []
  const at = (level: string) => (obj: object, msg: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg })
  const timers: (() => void)[] = []
  const limiter = new LogRateLimiter({
    logger: { warn: at('warn'), info: at('info') },
    windowMs: 1000,
    ...(maxKeys !== undefined ? { maxKeys } : {}),
    schedule: (fn) => {
      timers.push(fn)
      return () => {}
    },
  })
  /** Ends every open window, as the timers would. */
  const elapse = () => {
    for (const fn of timers.splice(0)) fn()
  }
  return { lines, limiter, elapse }
}

t.test('a repeated line is written once per window, then once with the suppressed count', async (t) => {
  const { lines, limiter, elapse } = setup()
  for (let i = 0; i < 1000; i++) limiter.warn('uid:1000', { pid: i }, 'stream refused')
  t.equal(lines.length, 1, 'one line for 1000 repeats so far')
  t.same(lines[0], { level: 'warn', obj: { pid: 0 }, msg: 'stream refused' })
  elapse()
  t.equal(lines.length, 2)
  t.same(lines[1], {
    level: 'warn',
    obj: { pid: 0, suppressed: 999, window_ms: 1000 },
    msg: 'stream refused',
  })
  t.equal(limiter.tracked, 0)
  limiter.warn('uid:1000', { pid: 5 }, 'stream refused')
  t.equal(lines.length, 3, 'after the window the next repeat is written at once')
  elapse()
  t.equal(lines.length, 3, 'nothing suppressed, no summary line')
})

t.test('other keys and other messages are limited separately', async (t) => {
  const { lines, limiter } = setup()
  limiter.warn('uid:1', {}, 'a')
  limiter.warn('uid:2', {}, 'a')
  limiter.warn('uid:1', {}, 'b')
  limiter.info('uid:1', {}, 'c')
  limiter.warn('uid:1', {}, 'a')
  t.same(
    lines.map((l) => `${l.level}:${l.msg}`),
    ['warn:a', 'warn:a', 'warn:b', 'info:c'],
  )
})

t.test('past maxKeys, new keys of a message share one bucket', async (t) => {
  const { lines, limiter, elapse } = setup(2)
  for (let pid = 0; pid < 100; pid++) limiter.warn(`pid:${pid}`, { pid }, 'no identity issued')
  t.equal(lines.length, 3, 'two keys, then one shared bucket')
  t.equal(limiter.tracked, 3)
  elapse()
  t.equal(lines.at(-1)?.obj.suppressed, 97)
})

t.test('close() writes what was suppressed and stops the windows', async (t) => {
  const { lines, limiter } = setup()
  limiter.warn('k', {}, 'm')
  limiter.warn('k', {}, 'm')
  limiter.close()
  t.equal(lines.length, 2)
  t.equal(lines[1]?.obj.suppressed, 1)
  t.equal(limiter.tracked, 0)
})

t.test('the default timer ends the window', async (t) => {
  const lines: string[] = []
  const limiter = new LogRateLimiter({
    logger: { warn: (o, m) => lines.push(`${m}:${JSON.stringify(o)}`), info: () => {} },
    windowMs: 20,
  })
  limiter.warn('k', {}, 'm')
  limiter.warn('k', {}, 'm')
  const deadline = Date.now() + 5_000
  while (lines.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.same(lines, ['m:{}', 'm:{"suppressed":1,"window_ms":20}'], 'the summary came from the timer')
  t.throws(() => new LogRateLimiter({ logger: { warn() {}, info() {} }, windowMs: 0 }), TypeError)
})
