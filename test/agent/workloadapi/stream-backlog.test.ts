// The per-stream backlog: bytes written and not yet sent are counted; a write that would pass
// the bound while something is unsent is refused; resetStream finds grpc-js's HTTP/2 stream.
import type { ServerWritableStream } from '@grpc/grpc-js'
import t from 'tap'
import { messageBytes, resetStream, StreamBacklog } from '../../../agent/workloadapi/stream-backlog.js'

/** A call whose writes complete only when the test says so. */
function fakeCall() {
  const callbacks: (() => void)[] = []
  const call = {
    write: (_msg: unknown, cb: () => void) => {
      callbacks.push(cb)
      return true
    },
  } as unknown as ServerWritableStream<unknown, unknown>
  const flush = () => {
    for (const cb of callbacks.splice(0)) cb()
  }
  return { call, flush }
}

t.test('messageBytes counts buffers and strings', async (t) => {
  t.equal(messageBytes({ a: Buffer.alloc(100), b: [{ c: 'xyz' }] }), 1 + 100 + 1 + 1 + 3)
  t.equal(messageBytes(undefined), 0)
})

t.test('a write past the bound is refused only while something is unsent', async (t) => {
  const { call, flush } = fakeCall()
  const b = new StreamBacklog(1000)
  const msg = { x509_svid: Buffer.alloc(600) }
  t.ok(b.write(call, msg), 'the first message is written')
  t.equal(b.pendingBytes, messageBytes(msg))
  t.notOk(b.write(call, msg), 'a second one while the first is unsent would pass the bound')
  flush()
  t.equal(b.pendingBytes, 0, 'sent bytes leave the backlog')
  t.ok(b.write(call, msg), 'written again once the client read')
  flush()
  t.ok(b.write(call, { big: Buffer.alloc(5000) }), 'a message larger than the bound alone is still sent')
  t.throws(() => new StreamBacklog(0), TypeError)
})

t.test('resetStream closes the HTTP/2 stream under the call, or says it cannot', async (t) => {
  const closed: number[] = []
  const stream = {
    session: {},
    rstCode: undefined,
    closed: false,
    destroyed: false,
    close: (c: number) => closed.push(c),
  }
  const call = { call: { nextCall: { stream } } } as unknown as ServerWritableStream<unknown, unknown>
  t.ok(resetStream(call))
  t.same(closed, [11], 'RST_STREAM ENHANCE_YOUR_CALM')
  t.notOk(resetStream({ call: {} } as unknown as ServerWritableStream<unknown, unknown>))
})
