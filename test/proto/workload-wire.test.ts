// The Workload API on a real wire: a grpc-js server on a temp Unix socket, typed from the
// generated handlers, and clients that decode what it streams; plus byte-level checks that
// the encodings are exactly what the SPIFFE field numbers imply.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Client,
  type ClientReadableStream,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServiceError,
  status,
} from '@grpc/grpc-js'
import type { MessageTypeDefinition } from '@grpc/proto-loader'
import t from 'tap'
import type { JWTSVIDResponse__Output } from '../../proto/generated/JWTSVIDResponse.js'
import type { X509SVIDResponse__Output } from '../../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi, type SpiffeWorkloadAPIHandlers } from '../../proto/loader.js'

const api = loadWorkloadApi()
const ID = 'spiffe://example.org/web'
const chain = randomBytes(40)
const key = randomBytes(32)
const bundle = randomBytes(24)
const foreign = randomBytes(16)

// Ends a server stream the way the agent will for the optional profiles.
const unimplemented = (call: { emit(event: 'error', e: Partial<ServiceError>): boolean }) => {
  call.emit('error', { code: status.UNIMPLEMENTED, details: 'not implemented' })
}

function headerOk(md: Metadata): boolean {
  const v = md.get('workload.spiffe.io')
  return v.length === 1 && v[0] === 'true'
}

const handlers: SpiffeWorkloadAPIHandlers = {
  FetchX509SVID(call) {
    if (!headerOk(call.metadata)) {
      call.emit('error', { code: status.INVALID_ARGUMENT, details: 'security header missing from request' })
      return
    }
    const svid = { spiffe_id: ID, x509_svid: chain, x509_svid_key: key, bundle, hint: 'internal' }
    call.write({ svids: [svid], federated_bundles: { 'spiffe://other.org': foreign } })
    call.write({ svids: [{ ...svid, hint: 'rotated' }] })
    call.end()
  },
  FetchJWTSVID(call, cb) {
    cb(null, { svids: [{ spiffe_id: call.request.spiffe_id || ID, svid: call.request.audience.join(',') }] })
  },
  ValidateJWTSVID(call, cb) {
    cb(null, {
      spiffe_id: ID,
      claims: {
        fields: {
          aud: { listValue: { values: [{ stringValue: call.request.audience }] } },
          exp: { numberValue: 1_700_000_000 },
        },
      },
    })
  },
  FetchX509Bundles: unimplemented,
  FetchJWTBundles: unimplemented,
  FetchWITSVID: unimplemented,
  FetchWITBundles: unimplemented,
}

function collect<T>(stream: ClientReadableStream<T>): Promise<{ messages: T[]; error?: ServiceError }> {
  const messages: T[] = []
  return new Promise((resolve) => {
    stream.on('data', (m: T) => messages.push(m))
    stream.on('error', (error: ServiceError) => resolve({ messages, error }))
    stream.on('end', () => resolve({ messages }))
  })
}

function workloadMetadata(): Metadata {
  const md = new Metadata()
  md.set('workload.spiffe.io', 'true')
  return md
}

t.test('a real server on a Unix socket streams X509SVIDResponse and answers FetchJWTSVID', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-proto-'))
  const address = `unix://${join(dir, 'agent.sock')}`
  const server = new Server()
  server.addService(api.service, handlers)
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  )
  const client = new api.Client(address, credentials.createInsecure())
  t.teardown(async () => {
    client.close()
    server.forceShutdown()
    await rm(dir, { recursive: true, force: true })
  })

  const x509 = await collect<X509SVIDResponse__Output>(client.FetchX509SVID({}, workloadMetadata()))
  t.equal(x509.error, undefined)
  t.equal(x509.messages.length, 2, 'both stream messages arrive')
  const [first, second] = x509.messages
  const svid = first?.svids[0]
  t.equal(svid?.spiffe_id, ID)
  t.ok(svid?.x509_svid.equals(chain), 'x509_svid bytes survive')
  t.ok(svid?.x509_svid_key.equals(key), 'x509_svid_key bytes survive')
  t.ok(svid?.bundle.equals(bundle), 'bundle bytes survive')
  t.equal(svid?.hint, 'internal')
  t.same(Object.keys(first?.federated_bundles ?? {}), ['spiffe://other.org'])
  t.ok(first?.federated_bundles['spiffe://other.org']?.equals(foreign))
  t.same(first?.crl, [], 'absent repeated field decodes as []')
  t.equal(second?.svids[0]?.hint, 'rotated')
  t.same(second?.federated_bundles, {}, 'absent map decodes as {} (a removed bundle)')

  const denied = await collect<X509SVIDResponse__Output>(client.FetchX509SVID({}))
  t.equal(denied.error?.code, status.INVALID_ARGUMENT, 'the handler sees metadata: no header, no SVID')

  const jwt = await new Promise<JWTSVIDResponse__Output | undefined>((resolve, reject) =>
    client.FetchJWTSVID({ audience: ['a', 'b'] }, workloadMetadata(), (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  )
  t.same(jwt, { svids: [{ spiffe_id: ID, svid: 'a,b', hint: '' }] }, 'defaults fill in absent scalars')

  const validated = await new Promise<unknown>((resolve, reject) =>
    client.ValidateJWTSVID({ audience: 'x', svid: 'tok' }, workloadMetadata(), (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  )
  t.match(validated, {
    spiffe_id: ID,
    claims: {
      fields: { aud: { listValue: { values: [{ stringValue: 'x' }] } }, exp: { numberValue: 1_700_000_000 } },
    },
  })

  const unimpl = await collect(client.FetchWITSVID({}, workloadMetadata()))
  t.equal(unimpl.error?.code, status.UNIMPLEMENTED)
})

t.test(
  'a client that knows only the path and raw bytes gets the bytes the field numbers imply',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sigil-proto-'))
    const address = `unix://${join(dir, 'agent.sock')}`
    const minimal: SpiffeWorkloadAPIHandlers = {
      ...handlers,
      FetchX509SVID(call) {
        call.write({ svids: [{ spiffe_id: 'a', x509_svid: Buffer.from([1, 2]) }] })
        call.end()
      },
    }
    const server = new Server()
    server.addService(api.service, minimal)
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    )
    const raw = new Client(address, credentials.createInsecure())
    t.teardown(async () => {
      raw.close()
      server.forceShutdown()
      await rm(dir, { recursive: true, force: true })
    })
    const identity = (b: Buffer) => b
    const stream = raw.makeServerStreamRequest(
      '/SpiffeWorkloadAPI/FetchX509SVID',
      identity,
      identity,
      Buffer.alloc(0),
      workloadMetadata(),
    )
    const { messages, error } = await collect<Buffer>(stream)
    t.equal(error, undefined)
    // X509SVIDResponse{ svids(1, LEN) = X509SVID{ spiffe_id(1) = "a", x509_svid(2) = 01 02 } }
    t.same([...(messages[0] ?? [])], [0x0a, 0x07, 0x0a, 0x01, 0x61, 0x12, 0x02, 0x01, 0x02])
  },
)

t.test('hand-encoded protobuf matches the SPIFFE field numbers', async (t) => {
  const def = api.packageDefinition
  const message = (name: string) => def[name] as MessageTypeDefinition<object, object>

  // X509SVID { spiffe_id = 1 (string) } -> tag (1<<3)|2 = 0x0a, length 1, "a"
  const encoded = message('X509SVID').serialize({ spiffe_id: 'a' })
  t.same([...encoded.subarray(0, 3)], [0x0a, 0x01, 0x61])

  const all = message('X509SVID').serialize({
    spiffe_id: 'a',
    x509_svid: Buffer.from([0xb1]),
    x509_svid_key: Buffer.from([0xb2]),
    bundle: Buffer.from([0xb3]),
    hint: 'h',
  })
  t.same(
    [...all],
    [0x0a, 1, 0x61, 0x12, 1, 0xb1, 0x1a, 1, 0xb2, 0x22, 1, 0xb3, 0x2a, 1, 0x68],
    'fields 1..5 with wire type 2',
  )

  // X509SVIDResponse.federated_bundles = 3: each map entry is a LEN record { key = 1, value = 2 }.
  const map = message('X509SVIDResponse').serialize({ federated_bundles: { k: Buffer.from([0xff]) } })
  t.same([...map], [0x1a, 6, 0x0a, 1, 0x6b, 0x12, 1, 0xff])

  // JWTSVIDRequest { audience = 1 (repeated string), spiffe_id = 2 }, decoded from hand-made bytes.
  const request = Buffer.from([0x0a, 1, 0x78, 0x0a, 1, 0x79, 0x12, 1, 0x7a])
  t.same(message('JWTSVIDRequest').deserialize(request), { audience: ['x', 'y'], spiffe_id: 'z' })

  // ValidateJWTSVIDRequest { audience = 1 (singular string), svid = 2 }.
  t.same(
    [...message('ValidateJWTSVIDRequest').serialize({ audience: 'a', svid: 'b' })],
    [0x0a, 1, 0x61, 0x12, 1, 0x62],
  )

  // WITBundlesResponse.bundles = 1 is map<string, string>.
  t.same(
    [...message('WITBundlesResponse').serialize({ bundles: { k: 'v' } })],
    [0x0a, 6, 0x0a, 1, 0x6b, 0x12, 1, 0x76],
  )
})
