// The Workload API's per-caller limits on a real socket with real attestation: one process past
// its stream limit gets RESOURCE_EXHAUSTED (and the refusal is logged once, not per stream), one
// process past its connection limit has the extra connection closed, and a client that does not
// read a stream has it reset once its unsent backlog passes the bound; a process that keeps
// opening streams past its limit has its connections held back at HTTP/2.
import { type ClientHttp2Stream, constants as http2, connect as http2Connect } from 'node:http2'
import { connect as netConnect } from 'node:net'
import { credentials, status } from '@grpc/grpc-js'
import t from 'tap'
import { REFUSALS_BEFORE_HOLD } from '../../../agent/workloadapi/caller-limits.js'
import { loadWorkloadApi } from '../../../proto/loader.js'
import { rawFetchX509 } from '../../../scripts/bench/raw-fetch-x509.js'
import { entry } from '../cache/fake-server.js'
import { eventually, firstMessage, md, startHarness, streamStatus } from './harness.js'

/** A client on its own connection (grpc-js would share one between equal channels). */
function ownClient(socketPath: string, n: number) {
  const c = new (loadWorkloadApi().Client)(`unix://${socketPath}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'sigil.test.connection': n,
  })
  return c
}

t.test('a process past its stream limit gets RESOURCE_EXHAUSTED, across its connections', async (t) => {
  const h = await startHarness(t, {
    entries: ({ uid }) => [entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`] })],
    server: { callerLimits: { maxStreamsPerProcess: 2 } },
  })
  const c1 = ownClient(h.socketPath, 1)
  const c2 = ownClient(h.socketPath, 2)
  t.teardown(() => {
    c1.close()
    c2.close()
  })
  const s1 = c1.FetchX509SVID({}, md())
  const s2 = c2.FetchX509SVID({}, md())
  await firstMessage(s1)
  await firstMessage(s2)
  for (let i = 0; i < 20; i++) {
    const refused = await streamStatus((i % 2 === 0 ? c1 : c2).FetchX509SVID({}, md()))
    t.equal(refused.code, status.RESOURCE_EXHAUSTED, `extra stream ${i} refused`)
  }
  const lines = h.lines.filter((l) => /stream limit/.test(l.msg))
  t.equal(lines.length, 1, 'twenty refusals, one log line (the rest are counted)')
  t.match(lines[0]?.obj, { pid: process.pid, limit: 2 }, 'the line names the process and the limit')
  s1.on('error', () => {})
  s1.cancel()
  const deadline = Date.now() + 10_000
  // The cancelled stream is released once the server sees the cancel; retry until then.
  let got = await firstMessage(c1.FetchX509SVID({}, md())).then(
    () => 'message',
    (e: { code: number }) => e.code,
  )
  while (got === status.RESOURCE_EXHAUSTED && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    got = await firstMessage(c1.FetchX509SVID({}, md())).then(
      () => 'message',
      (e: { code: number }) => e.code,
    )
  }
  t.equal(got, 'message', 'a cancelled stream makes room for a new one')
})

t.test('a process past its connection limit has the extra connection closed', async (t) => {
  const h = await startHarness(t, {
    entries: ({ uid }) => [entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`] })],
    server: { callerLimits: { maxConnectionsPerProcess: 1 } },
  })
  const c1 = ownClient(h.socketPath, 1)
  const c2 = ownClient(h.socketPath, 2)
  t.teardown(() => {
    c1.close()
    c2.close()
  })
  await firstMessage(c1.FetchX509SVID({}, md()))
  const refused = await streamStatus(c2.FetchX509SVID({}, md()))
  t.equal(refused.code, status.UNAVAILABLE, 'the second connection is closed before any call')
  t.equal(h.api.connections(), 1, 'one connection is open')
  t.ok(h.lines.some((l) => /connection limit/.test(l.msg) && l.level === 'warn'))
})

t.test('a stream whose client never reads is reset past its backlog bound', async (t) => {
  const h = await startHarness(t, {
    entries: ({ uid }) => [entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`] })],
    // Smaller than two messages: the second push while the first is unsent passes it.
    server: { maxStreamBacklogBytes: 1024 },
  })
  // A stream window of 0: the agent can send no DATA on any stream, so every message it pushes
  // stays unsent (deterministic, whatever the machine's load or the message size).
  const session = http2Connect('http://localhost', {
    createConnection: () => netConnect(h.socketPath),
    settings: { initialWindowSize: 0 },
  })
  session.on('error', () => {})
  t.teardown(() => session.destroy())
  // Streams nobody reads (and that could not receive anything anyway).
  const reqs = Array.from({ length: 60 }, () => {
    const req = rawFetchX509(session)
    req.pause()
    return req
  })
  t.ok(
    await eventually(() => h.cache.stats().x509Svids >= 1),
    'the caller has its SVID (first messages queued)',
  )
  // A rotation: every open stream gets a second message; the unread ones pass the bound.
  h.cache.update(
    h.server.state([
      entry({ id: 'a', path: '/web', selectors: [`unix:uid:${h.uid}`], revisionNumber: 2, hint: 'rotated' }),
    ]),
  )
  t.ok(
    await eventually(() => reqs.some((r) => r.rstCode === http2.NGHTTP2_ENHANCE_YOUR_CALM), 15_000),
    'an unread stream is reset with ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED)',
  )
  t.ok(
    h.lines.some((l) => /not reading/.test(l.msg)),
    'the reset is logged',
  )
})

t.test('a process that keeps opening streams past its limit is held back at HTTP/2', async (t) => {
  const h = await startHarness(t, {
    entries: ({ uid }) => [entry({ id: 'a', path: '/web', selectors: [`unix:uid:${uid}`] })],
    server: { callerLimits: { maxStreamsPerProcess: 2 } },
  })
  const session = http2Connect('http://localhost', { createConnection: () => netConnect(h.socketPath) })
  session.on('error', () => {})
  t.teardown(() => session.destroy())
  const limits: number[] = []
  session.on('remoteSettings', (s) => limits.push(s.maxConcurrentStreams ?? -1))
  const extra = 10
  const served: ClientHttp2Stream[] = []
  const ended: number[] = []
  for (let i = 0; i < 2 + REFUSALS_BEFORE_HOLD + extra; i++) {
    const req = rawFetchX509(session)
    req.on('response', (headers) => {
      if (headers['grpc-status'] === undefined) served.push(req)
      else ended.push(Number(headers['grpc-status']))
    })
    req.pause()
  }
  t.ok(
    await eventually(() => limits.includes(2), 15_000),
    `after ${REFUSALS_BEFORE_HOLD} refusals the connection may open only the 2 streams it holds (SETTINGS: ${limits.join(', ')})`,
  )
  t.equal(served.length, 2, 'the process holds its 2 streams')
  t.ok(
    ended.length >= REFUSALS_BEFORE_HOLD && ended.every((c) => c === status.RESOURCE_EXHAUSTED),
    'the refused ones ended RESOURCE_EXHAUSTED',
  )
  t.match(
    h.lines.filter((l) => /held back/.test(l.msg)),
    [{ level: 'warn', obj: { pid: process.pid, limit: 2, refused: REFUSALS_BEFORE_HOLD } }],
    'holding the process back is logged once',
  )
  for (const req of served.splice(0)) req.close(http2.NGHTTP2_CANCEL)
  t.ok(
    await eventually(() => limits.at(-1) === 100, 15_000),
    `once it holds no more than half its limit, the connection gets the default back (SETTINGS: ${limits.join(', ')})`,
  )
  for (let i = 0; i < 2; i++) {
    const req = rawFetchX509(session)
    req.on('response', (headers) => headers['grpc-status'] === undefined && served.push(req))
  }
  t.ok(await eventually(() => served.length === 2, 15_000), 'new streams on the connection are served again')
})
