// The Workload API's chain bytes: one view of the cache's memory when the certificates lie back to
// back, a copy otherwise, and in both cases exactly the concatenated DER.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { concatenated } from '../../../agent/workloadapi/workload-api-messages.js'

t.test('certificates back to back in one block give a view of that block', async (t) => {
  const block = Buffer.allocUnsafeSlow(700)
  randomBytes(700).copy(block)
  const chain = [block.subarray(0, 300), block.subarray(300, 550)]
  const out = concatenated(chain)
  t.ok(out.equals(Buffer.concat(chain)))
  t.equal(out.buffer, block.buffer, 'no copy')
  t.equal(out.byteOffset, block.byteOffset)
  t.equal(out.length, 550, 'only the chain, not what follows it (the key)')
})

t.test('anything else is copied, with the same bytes', async (t) => {
  const block = randomBytes(700)
  const cases: [string, Buffer[]][] = [
    ['a gap between certificates', [block.subarray(0, 300), block.subarray(301, 550)]],
    ['out of order', [block.subarray(300, 550), block.subarray(0, 300)]],
    ['separate blocks', [randomBytes(300), randomBytes(250)]],
    ['three, the last elsewhere', [block.subarray(0, 100), block.subarray(100, 200), randomBytes(50)]],
  ]
  for (const [name, chain] of cases) {
    const out = concatenated(chain)
    t.ok(out.equals(Buffer.concat(chain)), name)
    t.not(out.buffer, block.buffer, `${name}: a copy`)
  }
  const one = randomBytes(10)
  t.equal(concatenated([one]), one, 'a single certificate is itself')
  t.equal(concatenated([]).length, 0, 'no certificate, no bytes')
})
