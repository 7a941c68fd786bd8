/**
 * `node dist/scripts/bench/echo-server.js UDS_PATH GRPC_PATH`: the physical baselines of the
 * workload-api benchmark, in their own process (as the agent is): a bare Unix-socket echo
 * (every byte read is written back) and a bare @grpc/grpc-js server on a Unix socket with one
 * server-streaming method that answers a request (a 4-byte big-endian size) with one message
 * of that many bytes and keeps the stream open until the client cancels, like FetchX509SVID.
 * No protobuf: messages are raw buffers. Prints `{"ready":true}` once both listen.
 */
import { rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { Server, ServerCredentials, type ServerWritableStream } from '@grpc/grpc-js'
import { ECHO_SERVICE } from './echo-service.js'

const [udsPath, grpcPath] = process.argv.slice(2)
if (!udsPath || !grpcPath) {
  process.stderr.write('usage: echo-server UDS_PATH GRPC_PATH\n')
  process.exit(2)
}

const payloads = new Map<number, Buffer>()
function payload(size: number): Buffer {
  let p = payloads.get(size)
  if (p === undefined) {
    p = Buffer.alloc(size, 0x5a)
    payloads.set(size, p)
  }
  return p
}

rmSync(udsPath, { force: true })
const uds = createServer((socket) => {
  socket.setNoDelay?.(true)
  socket.on('data', (d) => socket.write(d))
  socket.on('error', () => socket.destroy())
})

const grpc = new Server()
grpc.addService(ECHO_SERVICE, {
  Stream: (call: ServerWritableStream<Buffer, Buffer>) => {
    call.on('error', () => {})
    call.write(payload(call.request.readUInt32BE(0)))
  },
})

uds.listen(udsPath, () => {
  grpc.bindAsync(`unix:${grpcPath}`, ServerCredentials.createInsecure(), (err) => {
    if (err) throw err
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
  })
})

process.on('SIGTERM', () => {
  uds.close()
  grpc.forceShutdown()
  process.exit(0)
})
