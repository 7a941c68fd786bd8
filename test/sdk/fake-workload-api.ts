// A stand-in Workload API for unit tests of the SDK: a real gRPC server on a temp Unix socket,
// loaded from our own proto, whose answers each test scripts. It records every call's security
// header so tests can check the client always sends it. End-to-end tests use the real agent.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type handleUnaryCall,
  Server,
  ServerCredentials,
  type ServerWritableStream,
  status,
} from '@grpc/grpc-js'
import type { JWTBundlesRequest__Output } from '../../proto/generated/JWTBundlesRequest.js'
import type { JWTBundlesResponse } from '../../proto/generated/JWTBundlesResponse.js'
import type { JWTSVIDRequest__Output } from '../../proto/generated/JWTSVIDRequest.js'
import type { JWTSVIDResponse } from '../../proto/generated/JWTSVIDResponse.js'
import type { ValidateJWTSVIDRequest__Output } from '../../proto/generated/ValidateJWTSVIDRequest.js'
import type { ValidateJWTSVIDResponse } from '../../proto/generated/ValidateJWTSVIDResponse.js'
import type { X509SVIDRequest__Output } from '../../proto/generated/X509SVIDRequest.js'
import type { X509SVIDResponse } from '../../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi, type SpiffeWorkloadAPIHandlers } from '../../proto/loader.js'

export type X509Stream = ServerWritableStream<X509SVIDRequest__Output, X509SVIDResponse>
export type JwtBundlesStream = ServerWritableStream<JWTBundlesRequest__Output, JWTBundlesResponse>

/** What a test scripts; unscripted methods answer UNIMPLEMENTED. */
export interface FakeScript {
  x509?: (call: X509Stream, attempt: number) => void
  jwtBundles?: (call: JwtBundlesStream, attempt: number) => void
  fetchJwt?: handleUnaryCall<JWTSVIDRequest__Output, JWTSVIDResponse>
  validateJwt?: handleUnaryCall<ValidateJWTSVIDRequest__Output, ValidateJWTSVIDResponse>
}

export interface FakeWorkloadApi {
  readonly socketPath: string
  readonly address: string
  /** Every call: method, its security header values, and when it arrived. */
  readonly calls: { method: string; header: string[]; at: number }[]
  stop(): Promise<void>
}

const unimplemented = (_call: unknown, cb?: (e: { code: number; details: string }) => void) => {
  if (cb) cb({ code: status.UNIMPLEMENTED, details: 'not scripted' })
}

/** Starts the fake on a fresh socket; stopped at teardown. */
export async function startFakeWorkloadApi(
  t: { teardown(fn: () => unknown): void },
  script: FakeScript,
): Promise<FakeWorkloadApi> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-fake-'))
  const socketPath = join(dir, 'api.sock')
  const calls: FakeWorkloadApi['calls'] = []
  const attempts = new Map<string, number>()
  const record = (method: string, md: { get(k: string): unknown[] }): number => {
    calls.push({ method, header: md.get('workload.spiffe.io').map(String), at: Date.now() })
    const n = (attempts.get(method) ?? 0) + 1
    attempts.set(method, n)
    return n
  }
  const stream =
    <Req, Res>(method: string, fn?: (call: ServerWritableStream<Req, Res>, attempt: number) => void) =>
    (call: ServerWritableStream<Req, Res>) => {
      const n = record(method, call.metadata)
      if (fn) fn(call, n)
      else failStream(call, status.UNIMPLEMENTED, 'not scripted')
    }
  const handlers: SpiffeWorkloadAPIHandlers = {
    FetchX509SVID: stream('FetchX509SVID', script.x509),
    FetchJWTBundles: stream('FetchJWTBundles', script.jwtBundles),
    FetchX509Bundles: stream('FetchX509Bundles'),
    FetchWITSVID: stream('FetchWITSVID'),
    FetchWITBundles: stream('FetchWITBundles'),
    FetchJWTSVID: (call, cb) => {
      record('FetchJWTSVID', call.metadata)
      ;(script.fetchJwt ?? unimplemented)(call, cb)
    },
    ValidateJWTSVID: (call, cb) => {
      record('ValidateJWTSVID', call.metadata)
      ;(script.validateJwt ?? unimplemented)(call, cb)
    },
  }
  const server = new Server()
  server.addService(loadWorkloadApi().service, handlers)
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socketPath}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  )
  const stop = async () => {
    server.forceShutdown()
    rmSync(dir, { recursive: true, force: true })
  }
  t.teardown(stop)
  return { socketPath, address: `unix://${socketPath}`, calls, stop }
}

/** Fails a stream with a gRPC status. */
export function failStream(
  call: { emit(event: 'error', e: Error): unknown },
  code: number,
  details: string,
): void {
  call.emit('error', Object.assign(new Error(details), { code, details }))
}
