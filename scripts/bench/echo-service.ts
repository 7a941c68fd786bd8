/**
 * The bare gRPC echo used as a baseline: one server-streaming method on raw buffers (no
 * protobuf), its client side, and the raw Unix-socket echo client. The server half is
 * echo-server.ts, run as its own process.
 */
import { connect, type Socket } from 'node:net'
import { Client, credentials, Metadata, type ServiceDefinition, status } from '@grpc/grpc-js'

const raw = (b: Buffer) => b

/** `/bench.Echo/Stream`: request = 4-byte big-endian size, response = one message of that size. */
export const ECHO_SERVICE: ServiceDefinition = {
  Stream: {
    path: '/bench.Echo/Stream',
    requestStream: false,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
}

/** Channel options every bench client uses: its own connection, large messages allowed. */
export const OWN_CHANNEL = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
} as const

/** A gRPC echo client on its own channel. */
export class GrpcEchoClient {
  readonly #client: Client
  readonly #request: Buffer
  readonly #metadata = new Metadata()

  constructor(socketPath: string, size: number) {
    this.#client = new Client(`unix:${socketPath}`, credentials.createInsecure(), OWN_CHANNEL)
    this.#request = Buffer.alloc(4)
    this.#request.writeUInt32BE(size)
    this.#metadata.set('workload.spiffe.io', 'true')
  }

  /** Opens a new stream and resolves its first message (then cancels the stream). */
  firstMessage(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const call = this.#client.makeServerStreamRequest(
        ECHO_SERVICE.Stream?.path as string,
        raw,
        raw,
        this.#request,
        this.#metadata,
      )
      let done = false
      call.on('data', (msg: Buffer) => {
        done = true
        call.cancel()
        resolve(msg)
      })
      call.on('error', (err: { code?: number }) => {
        if (!(done && err.code === status.CANCELLED)) reject(err)
      })
    })
  }

  close(): void {
    this.#client.close()
  }
}

/** A bare Unix-socket echo client: one connection, one round trip at a time. */
export class UdsEchoClient {
  readonly #socket: Socket
  readonly #payload: Buffer
  #remaining = 0
  #resolve: (() => void) | undefined

  private constructor(socket: Socket, size: number) {
    this.#socket = socket
    this.#payload = Buffer.alloc(size, 0x5a)
    socket.on('data', (d) => {
      this.#remaining -= d.length
      if (this.#remaining <= 0 && this.#resolve) {
        const r = this.#resolve
        this.#resolve = undefined
        r()
      }
    })
  }

  /** Connects to the echo socket. */
  static open(path: string, size: number): Promise<UdsEchoClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path, () => resolve(new UdsEchoClient(socket, size)))
      socket.once('error', reject)
    })
  }

  /** Sends the payload and resolves once as many bytes came back. */
  roundTrip(): Promise<void> {
    return new Promise((resolve) => {
      this.#remaining = this.#payload.length
      this.#resolve = resolve
      this.#socket.write(this.#payload)
    })
  }

  close(): void {
    this.#socket.destroy()
  }
}
