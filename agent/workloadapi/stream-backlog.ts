/**
 * The unsent backlog of one Workload API stream: bytes written to a call that the HTTP/2 stream
 * has not yet handed on (a grpc-js write completes only once its DATA frames fit the client's
 * flow-control window). A client that never reads stops the window, and every push (rotation,
 * bundle change) would otherwise wait in the agent's memory; past a bound the stream is ended
 * with RST_STREAM(ENHANCE_YOUR_CALM), which gRPC clients report as RESOURCE_EXHAUSTED (gRPC's
 * PROTOCOL-HTTP2 mapping) — a status in trailers could not overtake the DATA it would follow.
 */
import { constants as http2, type ServerHttp2Stream } from 'node:http2'
import type { ServerWritableStream } from '@grpc/grpc-js'

/** Default `--max-stream-backlog-bytes`. */
export const DEFAULT_MAX_STREAM_BACKLOG_BYTES = 256 * 1024

/**
 * Counts the bytes a stream has written and not yet sent.
 *
 * @example
 * const backlog = new StreamBacklog(256 * 1024)
 * if (!backlog.write(call, msg)) resetStream(call)
 */
export class StreamBacklog {
  readonly maxBytes: number
  #pending = 0

  constructor(maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1)
      throw new TypeError('maxBytes must be a whole number ≥ 1')
    this.maxBytes = maxBytes
  }

  /** Bytes written and not yet sent. */
  get pendingBytes(): number {
    return this.#pending
  }

  /**
   * Writes `msg` unless it would take the backlog past the bound while something is still
   * unsent (a message larger than the bound alone is sent when nothing waits); returns false
   * then, and the caller ends the stream.
   */
  write(call: ServerWritableStream<unknown, unknown>, msg: object): boolean {
    const bytes = messageBytes(msg)
    if (this.#pending > 0 && this.#pending + bytes > this.maxBytes) return false
    this.#pending += bytes
    call.write(msg, () => {
      this.#pending -= bytes
    })
    return true
  }
}

/**
 * The payload bytes of a response object: its buffers and strings, walked (messages are a few
 * levels deep). Close to the encoded size; the few bytes of protobuf framing are left out.
 *
 * @example
 * messageBytes({ svids: [{ x509_svid: der, x509_svid_key: key, spiffe_id: id }] })
 */
export function messageBytes(msg: unknown, depth = 0): number {
  if (msg === null || msg === undefined || depth > 8) return 0
  if (typeof msg === 'string') return Buffer.byteLength(msg)
  if (msg instanceof Uint8Array) return msg.byteLength
  if (typeof msg !== 'object') return 8
  let n = 0
  if (Array.isArray(msg)) for (const v of msg) n += messageBytes(v, depth + 1)
  else for (const [k, v] of Object.entries(msg)) n += k.length + messageBytes(v, depth + 1)
  return n
}

/**
 * Ends a server stream at once with RST_STREAM(ENHANCE_YOUR_CALM) (RESOURCE_EXHAUSTED at the
 * client), dropping what it had queued. Returns false when it cannot reach the HTTP/2 stream
 * (another grpc-js layout), and the caller falls back to a status.
 */
export function resetStream(call: ServerWritableStream<unknown, unknown>): boolean {
  const stream = http2StreamOf(call)
  if (stream === undefined) return false
  if (!stream.closed && !stream.destroyed) stream.close(http2.NGHTTP2_ENHANCE_YOUR_CALM)
  return true
}

/**
 * The HTTP/2 stream under a grpc-js server call (grpc-js keeps it a few layers down; no public
 * API reaches it), or undefined when this grpc-js lays its calls out otherwise.
 *
 * @example
 * http2StreamOf(call)?.session // the connection's ServerHttp2Session
 */
export function http2StreamOf(call: object): ServerHttp2Stream | undefined {
  let layer: unknown = (call as { call?: unknown }).call
  for (let depth = 0; depth < 4 && layer !== undefined && layer !== null; depth++) {
    const stream = (layer as { stream?: unknown }).stream
    if (isHttp2Stream(stream)) return stream
    layer = (layer as { nextCall?: unknown }).nextCall
  }
  return undefined
}

function isHttp2Stream(s: unknown): s is ServerHttp2Stream {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof (s as { close?: unknown }).close === 'function' &&
    'session' in s &&
    'rstCode' in s
  )
}
