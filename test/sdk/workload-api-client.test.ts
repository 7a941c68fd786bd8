// The Workload API client and the sources against a scripted gRPC server on a real Unix socket:
// decoding and checks, the security header on every call, reconnect with backoff, the final
// InvalidArgument, the JWT-SVID cache and local validation. The real agent is in sdk-e2e.test.ts.
import { X509Certificate } from 'node:crypto'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { encodeJwtBundle } from '../../certs/bundle/jwt-bundle-json.js'
import { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { JwtSvidSigner } from '../../certs/jwtsvid/jwt-svid-signer.js'
import { generateKeyPair, privateKeyToPkcs8Der } from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { X509SVIDResponse } from '../../proto/generated/X509SVIDResponse.js'
import { JWTSource } from '../../sdk/jwt-source.js'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { X509Source } from '../../sdk/x509-source.js'
import { createTestCa, type TestCa } from '../helpers/testca.js'
import { failStream, startFakeWorkloadApi, type X509Stream } from './fake-workload-api.js'

const td = TrustDomain.parse('example.org')
const fast = { backoff: { initialMs: 40, maxMs: 160 } }

async function x509Message(ca: TestCa, path: string, other?: TestCa): Promise<X509SVIDResponse> {
  const svid = await ca.mintSvid(path, { ttlSeconds: 600 })
  return {
    svids: [
      {
        spiffe_id: svid.spiffeId.toString(),
        x509_svid: Buffer.concat(svid.chainDer),
        x509_svid_key: privateKeyToPkcs8Der(svid.privateKey),
        bundle: ca.rootDer,
        hint: 'internal',
      },
    ],
    federated_bundles: other ? { [other.trustDomain.idString()]: other.rootDer } : {},
  }
}

function serialOf(msg: X509SVIDResponse): string {
  const der = msg.svids?.[0]?.x509_svid as Buffer
  return new X509Certificate(der).serialNumber.toLowerCase()
}

t.test('fetchX509Context decodes SVIDs and bundles and sends the security header', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const other = await createTestCa({ trustDomain: 'other.org' })
  const msg = await x509Message(ca, '/web', other)
  const fake = await startFakeWorkloadApi(t, { x509: (call) => call.write(msg) })
  const client = new WorkloadApiClient({ env: { SPIFFE_ENDPOINT_SOCKET: fake.address } })
  t.teardown(() => client.close())
  const ctx = await client.fetchX509Context()
  t.equal(ctx.svids.length, 1)
  const svid = ctx.svids[0]!
  t.equal(svid.spiffeId.toString(), 'spiffe://example.org/web')
  t.equal(svid.chainDer.length, 2, 'leaf and intermediate')
  t.equal(svid.hint, 'internal')
  t.equal(svid.privateKey.type, 'private')
  t.same([...ctx.bundles.keys()].sort(), ['example.org', 'other.org'])
  t.ok(ctx.bundles.get('example.org')?.hasX509Authority(ca.rootDer))
  t.ok(ctx.bundles.get('other.org')?.hasX509Authority(other.rootDer))
  t.same(
    fake.calls.map((c) => c.header),
    [['true']],
  )
})

t.test('an SVID whose key or ID does not match is refused', async (t) => {
  const ca = await createTestCa()
  const good = await x509Message(ca, '/web')
  const wrongKey = structuredClone(good)
  wrongKey.svids![0]!.x509_svid_key = privateKeyToPkcs8Der((await generateKeyPair()).privateKey)
  const wrongId = structuredClone(good)
  wrongId.svids![0]!.spiffe_id = 'spiffe://example.org/db'
  for (const [name, msg] of [
    ['key', wrongKey],
    ['id', wrongId],
  ] as const) {
    const fake = await startFakeWorkloadApi(t, { x509: (call) => call.write(msg) })
    const client = new WorkloadApiClient({ socketPath: fake.socketPath })
    await t.rejects(client.fetchX509Context(), { code: 'ERR_SVID_INVALID' }, name)
    client.close()
  }
})

t.test('X509Source waits through failures with backoff, follows rotation and reconnects', async (t) => {
  const ca = await createTestCa()
  const first = await x509Message(ca, '/web')
  const second = await x509Message(ca, '/web')
  const third = await x509Message(ca, '/web')
  let live: X509Stream | undefined
  const fake = await startFakeWorkloadApi(t, {
    x509: (call, attempt) => {
      if (attempt === 1) return failStream(call, status.UNAVAILABLE, 'starting')
      if (attempt === 2) return failStream(call, status.PERMISSION_DENIED, 'no identity issued')
      live = call
      call.write(attempt === 3 ? first : third)
    },
  })
  const errors: string[] = []
  const source = await X509Source.create({
    socketPath: fake.socketPath,
    ...fast,
    onError: (e) => errors.push(e.code),
  })
  t.teardown(() => source.close())
  t.same(errors, ['ERR_UNAVAILABLE', 'ERR_NOT_AUTHORIZED'], 'each failure reported, then the first update')
  const [a1, a2, a3] = fake.calls.map((c) => c.at)
  t.ok(a2! - a1! >= 35 && a3! - a2! >= 75, 'the second wait is longer than the first (doubling)')
  t.equal(source.getX509Svid().serialNumber, serialOf(first))

  const rotated = new Promise<string>((resolve) =>
    source.onUpdate(() => resolve(source.getX509Svid().serialNumber)),
  )
  live!.write(second)
  t.equal(await rotated, serialOf(second), 'a pushed update replaces the SVID')

  const reconnected = new Promise<string>((resolve) =>
    source.onUpdate(() => resolve(source.getX509Svid().serialNumber)),
  )
  failStream(live!, status.UNAVAILABLE, 'agent restarting')
  t.equal(await reconnected, serialOf(third), 'after a dropped stream the source reconnects')
  t.ok(
    fake.calls.every((c) => c.header.length === 1 && c.header[0] === 'true'),
    'every call carried the header',
  )
  source.close()
  t.throws(() => source.getX509Svid(), { code: 'ERR_UNAVAILABLE' })
})

t.test('InvalidArgument is final; an abort ends the wait', async (t) => {
  const refusing = await startFakeWorkloadApi(t, {
    x509: (call) => failStream(call, status.INVALID_ARGUMENT, 'security header missing from request'),
  })
  await t.rejects(X509Source.create({ socketPath: refusing.socketPath, ...fast }), {
    code: 'ERR_INVALID_ARGUMENT',
  })
  await new Promise((r) => setTimeout(r, 200))
  t.equal(refusing.calls.length, 1, 'no retry after InvalidArgument')

  const denying = await startFakeWorkloadApi(t, {
    x509: (call) => failStream(call, status.PERMISSION_DENIED, 'no identity issued'),
  })
  const err = await X509Source.create({
    socketPath: denying.socketPath,
    ...fast,
    signal: AbortSignal.timeout(300),
  }).catch((e: unknown) => e)
  t.match(err, { code: 'ERR_UNAVAILABLE', cause: { code: 'ERR_NOT_AUTHORIZED' } })
  t.ok(denying.calls.length >= 2, 'it kept retrying until the abort')
})

t.test('JWT-SVIDs: audience and ID checks, the half-life cache, agent and local validation', async (t) => {
  const keys = await generateKeyPair('ec-p256')
  const signer = new JwtSvidSigner({ privateKey: keys.privateKey, kid: 'k1' })
  const web = SpiffeId.parse('spiffe://example.org/web')
  let clock = new Date()
  let mintedFor = web
  const fake = await startFakeWorkloadApi(t, {
    fetchJwt: async (call, cb) => {
      const { token } = await signer.sign({
        spiffeId: mintedFor,
        audience: call.request.audience,
        ttlSeconds: 100,
        now: clock,
      })
      cb(null, { svids: [{ spiffe_id: web.toString(), svid: token, hint: '' }] })
    },
    validateJwt: (call, cb) =>
      call.request.svid === 'bad'
        ? cb({ code: status.INVALID_ARGUMENT, details: 'token has expired' })
        : cb(null, {
            spiffe_id: web.toString(),
            claims: {
              fields: {
                sub: { stringValue: web.toString() },
                aud: { listValue: { values: [{ stringValue: 'tool-api' }] } },
                exp: { numberValue: 123 },
                extra: {
                  structValue: { fields: { ok: { boolValue: true }, none: { nullValue: 'NULL_VALUE' } } },
                },
              },
            },
          }),
    jwtBundles: (call) =>
      call.write({
        bundles: {
          [td.idString()]: Buffer.from(
            encodeJwtBundle(
              TrustBundle.create({
                trustDomain: td,
                jwtAuthorities: [{ kid: 'k1', publicKey: keys.publicKey }],
              }),
            ),
          ),
        },
      }),
  })
  const client = new WorkloadApiClient({ socketPath: fake.socketPath })
  t.teardown(() => client.close())
  const svid = await client.fetchJwtSvid({ audience: ['tool-api', 'other'] })
  t.equal(svid.spiffeId.toString(), web.toString())
  t.same(svid.audience, ['tool-api', 'other'])
  t.ok(svid.expiresAt > new Date())
  await t.rejects(client.fetchJwtSvid({ audience: [] }), TypeError)

  const validated = await client.validateJwtSvid(svid.token, 'tool-api')
  t.same(validated.claims, {
    sub: web.toString(),
    aud: ['tool-api'],
    exp: 123,
    extra: { ok: true, none: null },
  })
  await t.rejects(client.validateJwtSvid('bad', 'tool-api'), { code: 'ERR_JWT_INVALID' })

  const source = await JWTSource.create({ client, now: () => clock })
  t.teardown(() => source.close())
  const before = fake.calls.filter((c) => c.method === 'FetchJWTSVID').length
  const a = await source.fetchJwtSvid({ audience: ['tool-api'] })
  const b = await source.fetchJwtSvid({ audience: ['tool-api'] })
  t.equal(a.token, b.token, 'the cached token is reused before half its lifetime')
  clock = new Date(clock.getTime() + 51_000)
  const c = await source.fetchJwtSvid({ audience: ['tool-api'] })
  t.not(c.token, a.token, 'a new token after half its lifetime')
  t.equal(fake.calls.filter((x) => x.method === 'FetchJWTSVID').length - before, 2)

  const local = await source.validateJwtSvid(c.token, 'tool-api')
  t.equal(local.spiffeId.toString(), web.toString())
  await t.rejects(source.validateJwtSvid(c.token, 'someone-else'), { code: 'ERR_JWT_AUDIENCE_MISMATCH' })

  mintedFor = SpiffeId.parse('spiffe://example.org/impostor')
  await t.rejects(
    client.fetchJwtSvid({ audience: ['x'] }),
    { code: 'ERR_JWT_INVALID' },
    'sub must equal spiffe_id',
  )
  t.ok(
    fake.calls.every((x) => x.header[0] === 'true'),
    'unary calls carry the header too',
  )
})
