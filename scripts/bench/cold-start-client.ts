/**
 * `node dist/scripts/bench/cold-start-client.js SOCKET`: one new workload process asking for
 * its first X509-SVID. Loading Node, grpc-js and the Workload API definitions happens before
 * the clock starts; the clock starts at the channel's creation, right before it connects, and
 * stops when the first FetchX509SVID message arrives (the agent attests this new PID, generates
 * its key, gets the SVID signed by the server and answers). Prints one JSON line
 * `{ ms, connect_ms, svids }` (or `{ error }`) and exits.
 */
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js'
import type { X509SVIDResponse__Output } from '../../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi } from '../../proto/loader.js'

const socketPath = process.argv[2]
const api = loadWorkloadApi()
const metadata = new Metadata()
metadata.set('workload.spiffe.io', 'true')

function report(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`, () => process.exit(0))
}

if (!socketPath) {
  process.stderr.write('usage: cold-start-client SOCKET\n')
  process.exit(2)
}

const t0 = performance.now()
const client = new api.Client(`unix:${socketPath}`, credentials.createInsecure())
client.waitForReady(Date.now() + 10_000, (err) => {
  if (err) return report({ error: `connect: ${err.message}` })
  const connected = performance.now()
  const call = client.FetchX509SVID({}, metadata)
  call.on('data', (msg: X509SVIDResponse__Output) => {
    const t1 = performance.now()
    report({ ms: t1 - t0, connect_ms: connected - t0, svids: msg.svids.length })
  })
  call.on('error', (e: ServiceError) => report({ error: `${e.code}: ${e.details}` }))
})
