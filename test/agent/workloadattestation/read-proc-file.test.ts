// procfs reads through one reused scratch buffer: exact contents, independent copies, growth
// past the first buffer size, and fs errors passed through.
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { readProcFile, readProcText } from '../../../agent/workloadattestation/read-proc-file.js'

t.test('reads procfs files whole', async (t) => {
  // /proc/self/status moves under our feet (VmRSS); mountinfo and limits do not.
  t.equal(readProcText('/proc/self/mountinfo'), readFileSync('/proc/self/mountinfo', 'utf8'))
  t.equal(readProcText('/proc/self/limits'), readFileSync('/proc/self/limits', 'utf8'))
  t.match(readProcText('/proc/self/status'), /^Name:\t/, 'status reads from its first line')
  t.same(readProcFile('/proc/self/cmdline'), readFileSync('/proc/self/cmdline'))
})

t.test('a file larger than the scratch buffer is read whole; each result is its own copy', async (t) => {
  const dir = t.testdir({})
  const big = randomBytes(40_000)
  const small = Buffer.from('small file\n')
  writeFileSync(join(dir, 'big'), big)
  writeFileSync(join(dir, 'small'), small)
  const first = readProcFile(join(dir, 'small'))
  const whole = readProcFile(join(dir, 'big'))
  t.same(whole, big, 'all 40,000 bytes')
  t.same(first, small, 'an earlier result is not overwritten by the next read')
  t.equal(readProcText(join(dir, 'small')), 'small file\n', 'smaller reads after the buffer grew')
  t.same(readProcFile(join(dir, 'big')), big)
  whole[0] = whole[0]! ^ 0xff
  t.same(readProcFile(join(dir, 'big')), big, 'a caller changing its copy changes nothing else')
})

t.test('fs errors are thrown with their code', async (t) => {
  t.throws(() => readProcText('/proc/self/no-such-file'), { code: 'ENOENT' })
  t.throws(() => readProcFile('/proc/999999999/stat'), { code: 'ENOENT' })
})
