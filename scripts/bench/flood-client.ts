/**
 * A noisy neighbour for `npm run bench -- workload-api` and test/security/workload-api-flood:
 * `node flood-client.js <socket> <connections> <streams per connection>` opens that many HTTP/2
 * connections to the agent and that many FetchX509SVID streams on each (gRPC framing by hand
 * over node:http2), and never reads any of them (streams paused: no WINDOW_UPDATE, the agent's
 * messages stay on its side). Prints a JSON line `{ opened, pending, served, codes }` every
 * 200 ms: streams without a status yet, those of them the agent answered (response headers: it
 * is serving them; the others wait, in the agent or in this client's own HTTP/2 queue), and
 * gRPC code → count of the ended ones (RST_STREAM ENHANCE_YOUR_CALM counts as
 * RESOURCE_EXHAUSTED, REFUSED_STREAM and a lost connection as UNAVAILABLE). Exits when stdin
 * closes.
 */
import { connect, constants } from 'node:http2'
import { connect as netConnect } from 'node:net'
import { rawFetchX509 } from './raw-fetch-x509.js'

const [socketPath = '', connections = '4', perConnection = '5000'] = process.argv.slice(2)
const codes: Record<number, number> = {}
let opened = 0
let pending = 0
let served = 0
const RST: Record<number, number> = {
  [constants.NGHTTP2_ENHANCE_YOUR_CALM]: 8,
  [constants.NGHTTP2_REFUSED_STREAM]: 14,
}

for (let c = 0; c < Number(connections); c++) {
  const session = connect('http://localhost', { createConnection: () => netConnect(socketPath) })
  session.on('error', () => {})
  for (let i = 0; i < Number(perConnection); i++) {
    const req = rawFetchX509(session)
    opened++
    pending++
    let done = false
    let answered = false
    const finish = (code: number) => {
      if (done) return
      done = true
      pending--
      if (answered) served--
      codes[code] = (codes[code] ?? 0) + 1
    }
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) return finish(Number(h['grpc-status']))
      answered = true
      served++
    })
    req.on('trailers', (h) => finish(Number(h['grpc-status'] ?? 2)))
    req.on('close', () => finish(RST[req.rstCode ?? 0] ?? 14))
    req.pause()
  }
}
const report = () => process.stdout.write(`${JSON.stringify({ opened, pending, served, codes })}\n`)
report()
setInterval(report, 200)
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
