// Attack family: HTTP/2 "rapid reset" on the Workload API — a local process opens streams and
// cancels each one (RST_STREAM) as soon as it is sent, thousands of times over a few connections,
// so the agent starts work (attestation, SVID lookup) it never gets to finish. Real sigil-server
// and sigil-agent processes, a raw node:http2 client; the agent must stay up and serve a
// legitimate client afterwards.
import { readFileSync } from 'node:fs'
import { type ClientHttp2Session, constants, connect as http2Connect } from 'node:http2'
import { connect as netConnect } from 'node:net'
import t from 'tap'
import { startSigilNode } from '../helpers/agent-process.js'
import { workloadApiAnswers } from './harness.js'

const TD = 'spiffe://example.org'
const SESSIONS = 4
const STREAMS_PER_SESSION = 1_000
const node = await startSigilNode(t)
await node.createEntry(`${TD}/client`, ['unix:uid:0'])

/** One gRPC message frame holding an empty protobuf message (the request of every method used). */
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0])
/** A FetchJWTSVID request for audience "x": field 1 (audience), length 1, "x". */
const JWT_REQUEST = Buffer.from([0, 0, 0, 0, 3, 0x0a, 0x01, 0x78])

function agentRssKb(): number {
  const status = readFileSync(`/proc/${node.agent.child.pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
}

/**
 * Opens `count` streams on one new HTTP/2 connection, each cancelled right after its request is
 * written; resolves how many were sent before the agent ended the session (it may, e.g. with
 * GOAWAY — that is a defence, not a failure).
 */
function rapidReset(count: number): Promise<number> {
  return new Promise((resolve) => {
    const session: ClientHttp2Session = http2Connect('http://localhost', {
      createConnection: () => netConnect(node.agent.socketPath),
    })
    let sent = 0
    let done = false
    const finish = () => {
      if (done) return
      done = true
      session.destroy()
      resolve(sent)
    }
    session.on('error', finish)
    session.on('goaway', finish)
    session.on('close', finish)
    session.on('connect', () => {
      for (let i = 0; i < count && !session.destroyed && !session.closed; i++) {
        const jwt = i % 2 === 1
        let stream: ReturnType<ClientHttp2Session['request']>
        try {
          stream = session.request({
            ':method': 'POST',
            ':path': jwt ? '/SpiffeWorkloadAPI/FetchJWTSVID' : '/SpiffeWorkloadAPI/FetchX509SVID',
            'content-type': 'application/grpc',
            te: 'trailers',
            'workload.spiffe.io': 'true',
          })
        } catch {
          break
        }
        stream.on('error', () => {})
        stream.end(jwt ? JWT_REQUEST : EMPTY_MESSAGE)
        stream.close(constants.NGHTTP2_CANCEL)
        sent++
      }
      // Let the frames flush, then hang up.
      setImmediate(() => session.close(finish))
    })
  })
}

t.test('control: the Workload API answers before the attack', async (t) => {
  t.same(await workloadApiAnswers(node.agent.socketPath), [`${TD}/client`])
})

// Attack: open and RST thousands of Workload API streams quickly over a few connections.
t.test(
  `${SESSIONS} × ${STREAMS_PER_SESSION} opened-and-reset streams leave the agent up and serving`,
  async (t) => {
    const before = agentRssKb()
    const sent = await Promise.all(Array.from({ length: SESSIONS }, () => rapidReset(STREAMS_PER_SESSION)))
    const total = sent.reduce((a, b) => a + b, 0)
    t.ok(total > 0, `streams opened and reset: ${total} (per session: ${sent.join(', ')})`)
    t.equal(node.agent.child.exitCode, null, 'the agent is running')
    t.same(await workloadApiAnswers(node.agent.socketPath), [`${TD}/client`], 'a legitimate client is served')
    // A second round on the same agent: nothing accumulated that breaks it.
    await Promise.all(Array.from({ length: SESSIONS }, () => rapidReset(STREAMS_PER_SESSION)))
    t.same(await workloadApiAnswers(node.agent.socketPath), [`${TD}/client`], 'served after a second round')
    const after = agentRssKb()
    t.comment(`agent RSS ${Math.round(before / 1024)} MB before, ${Math.round(after / 1024)} MB after`)
    t.ok(after < before + 300 * 1024, 'the agent did not balloon (< +300 MB RSS)')
    const rejected = node.agent.logs.lines.filter((l) => l.level === 50 || l.level === 60)
    t.same(
      rejected.map((l) => l.msg),
      [],
      'no error or fatal log lines',
    )
  },
)
