// The security header interceptor: on a real gRPC server on a temp Unix socket, a call of any
// service (not only the Workload API) without `workload.spiffe.io: true` ends INVALID_ARGUMENT
// before its handler runs; with the header the handler runs as usual.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Client,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type ServiceError,
  status,
} from '@grpc/grpc-js'
import t from 'tap'

import {
  hasSecurityHeader,
  requireSecurityHeader,
  SECURITY_HEADER_MISSING,
} from '../../../agent/workloadapi/security-header.js'

const raw = (b: Buffer) => b
const fromRaw = (b: Buffer) => b
/** A made-up service with one unary and one server-streaming method on raw bytes. */
const service: ServiceDefinition = {
  Echo: {
    path: '/test.Other/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: fromRaw,
    responseSerialize: raw,
    responseDeserialize: fromRaw,
  },
  Watch: {
    path: '/test.Other/Watch',
    requestStream: false,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: fromRaw,
    responseSerialize: raw,
    responseDeserialize: fromRaw,
  },
}

type Generic = Client & {
  Echo(req: Buffer, md: Metadata, cb: (err: ServiceError | null, res?: Buffer) => void): void
  Watch(req: Buffer, md: Metadata): NodeJS.ReadableStream & { cancel(): void }
}

async function startServer(test: Pick<typeof t, 'teardown'>) {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-header-'))
  const socket = join(dir, 'api.sock')
  const ran: string[] = []
  const server = new Server({ interceptors: [requireSecurityHeader] })
  server.addService(service, {
    Echo: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => {
      ran.push('Echo')
      cb(null, call.request)
    },
    Watch: (call: { write(b: Buffer): void; end(): void }) => {
      ran.push('Watch')
      call.write(Buffer.from('one'))
      call.end()
    },
  })
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  )
  const Ctor = makeGenericClientConstructor(service, 'Other')
  const client = new Ctor(`unix:${socket}`, credentials.createInsecure()) as unknown as Generic
  test.teardown(async () => {
    client.close()
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()))
    await rm(dir, { recursive: true, force: true })
  })
  return { client, ran }
}

const echo = (c: Generic, md: Metadata) =>
  new Promise<{ err: ServiceError | null; res?: Buffer }>((resolve) =>
    c.Echo(Buffer.from('hi'), md, (err, res) => resolve({ err, ...(res ? { res } : {}) })),
  )

const watch = (c: Generic, md: Metadata) =>
  new Promise<{ code: number; details: string; messages: number }>((resolve) => {
    let messages = 0
    const s = c.Watch(Buffer.from('x'), md)
    s.on('data', () => messages++)
    s.on('error', () => {})
    s.on('status', (st: { code: number; details: string }) => resolve({ ...st, messages }))
  })

const withHeader = () => {
  const m = new Metadata()
  m.set('workload.spiffe.io', 'true')
  return m
}

t.test('hasSecurityHeader wants exactly one value "true"', async (t) => {
  t.ok(hasSecurityHeader(withHeader()))
  t.notOk(hasSecurityHeader(new Metadata()))
  const upper = new Metadata()
  upper.set('workload.spiffe.io', 'TRUE')
  t.notOk(hasSecurityHeader(upper))
  const twice = withHeader()
  twice.add('workload.spiffe.io', 'true')
  t.notOk(hasSecurityHeader(twice))
})

// Attack: a request forged through an SSRF-prone proxy (no header) reaches a handler of a service
// other than the Workload API on the same socket.
t.test('any service behind the interceptor refuses header-less calls before its handler runs', async (t) => {
  const { client, ran } = await startServer(t)
  const unary = await echo(client, new Metadata())
  t.equal(unary.err?.code, status.INVALID_ARGUMENT, 'unary: INVALID_ARGUMENT')
  t.equal(unary.err?.details, SECURITY_HEADER_MISSING)
  const stream = await watch(client, new Metadata())
  t.equal(stream.code, status.INVALID_ARGUMENT, 'stream: INVALID_ARGUMENT')
  t.equal(stream.details, SECURITY_HEADER_MISSING)
  t.equal(stream.messages, 0, 'no message on a refused stream')
  t.same(ran, [], 'no handler ran')

  const ok = await echo(client, withHeader())
  t.equal(ok.err, null, 'with the header the call succeeds')
  t.equal(ok.res?.toString(), 'hi')
  const okStream = await watch(client, withHeader())
  t.equal(okStream.code, status.OK)
  t.equal(okStream.messages, 1)
  t.same(ran, ['Echo', 'Watch'], 'handlers ran only for calls with the header')
})
