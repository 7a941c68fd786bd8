/**
 * `node dist/scripts/bench/bare-workload-server.js SOCKET RESPONSE_JSON`: the physical baseline
 * of the cold-start benchmark, in its own process (as the agent is): a bare @grpc/grpc-js server
 * on a Unix socket that serves the SPIFFE Workload API's FetchX509SVID with one canned
 * X509SVIDResponse (the agent's own first response, captured by the benchmark in the same run,
 * as JSON: Buffers as `{"type":"Buffer","data":[...]}`) and keeps the stream open until the client cancels. No peer
 * credentials, no attestation, no key, no signing: what a new process's connect() and first
 * message cost with the same gRPC stack and payload. Prints `{"ready":true}` once it listens.
 */
import { readFileSync, rmSync } from 'node:fs'
import { Server, ServerCredentials, type ServerWritableStream } from '@grpc/grpc-js'
import { loadWorkloadApi } from '../../proto/loader.js'

const [socketPath, responsePath] = process.argv.slice(2)
if (!socketPath || !responsePath) {
  process.stderr.write('usage: bare-workload-server SOCKET RESPONSE_JSON\n')
  process.exit(2)
}

/** JSON.parse reviver: a Buffer's JSON form back to a Buffer. */
function bytes(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  const { type, data } = value as { type?: unknown; data?: unknown }
  return type === 'Buffer' && Array.isArray(data) ? Buffer.from(data as number[]) : value
}
const response: unknown = JSON.parse(readFileSync(responsePath, 'utf8'), bytes)

rmSync(socketPath, { force: true })
const server = new Server({ 'grpc.enable_channelz': 0 })
server.addService(loadWorkloadApi().service, {
  FetchX509SVID: (call: ServerWritableStream<unknown, unknown>) => {
    call.on('error', () => {})
    call.write(response)
  },
})
server.bindAsync(`unix:${socketPath}`, ServerCredentials.createInsecure(), (err) => {
  if (err) throw err
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
})

process.on('SIGTERM', () => {
  server.forceShutdown()
  process.exit(0)
})
