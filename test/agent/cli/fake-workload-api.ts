// A small but real Workload API server for the CLI tests: grpc-js on a temp Unix socket, with
// SVIDs from a test CA minted at run time, JWT-SVIDs signed by a test key, validation through
// certs' validateJwtSvid, and the security header enforced (INVALID_ARGUMENT without it).
import { generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
import { type Metadata, Server, ServerCredentials, type ServerErrorResponse, status } from '@grpc/grpc-js'
import { toStruct } from '../../../agent/workloadapi/claims-struct.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { JwtSvidSigner } from '../../../certs/jwtsvid/jwt-svid-signer.js'
import { validateJwtSvid } from '../../../certs/jwtsvid/validate-jwt-svid.js'
import { privateKeyToPkcs8Der } from '../../../certs/keys/keys.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { SpiffeWorkloadAPIHandlers } from '../../../proto/generated/SpiffeWorkloadAPI.js'
import type { X509SVIDResponse } from '../../../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi } from '../../../proto/loader.js'
import { createTestCa, type TestCa } from '../../helpers/testca.js'

export interface FakeWorkloadApi {
  socketPath: string
  ca: TestCa
  jwtBundle: TrustBundle
  /** Headers of every call, in order. */
  calls: { method: string; header: string[] }[]
  /** When set, FetchX509SVID and FetchJWTSVID fail with this status. */
  deny: number | undefined
  /** Makes and pushes a new X509 response to open FetchX509SVID streams. */
  rotate(): Promise<void>
  close(): Promise<void>
}

function fail(code: number, details: string): ServerErrorResponse {
  return Object.assign(new Error(details), { code, details })
}

function headerOk(md: Metadata): string[] {
  return md.get('workload.spiffe.io').map(String)
}

export async function startFakeWorkloadApi(
  dir: string,
  opts: { ids?: string[]; withIntermediate?: boolean } = {},
): Promise<FakeWorkloadApi> {
  const ids = opts.ids ?? ['/web']
  const ca = await createTestCa({ withIntermediate: opts.withIntermediate ?? false })
  const jwtKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const signer = new JwtSvidSigner({ privateKey: jwtKey.privateKey, kid: 'test-kid' })
  const jwtBundle = TrustBundle.create({
    trustDomain: ca.trustDomain,
    x509Authorities: [ca.rootDer],
    jwtAuthorities: [{ kid: 'test-kid', publicKey: jwtKey.publicKey }],
  })
  const makeResponse = async (): Promise<X509SVIDResponse> => ({
    svids: await Promise.all(
      ids.map(async (path, i) => {
        const svid = await ca.mintSvid(path)
        const chain = [svid.certDer, ...(ca.intermediateDer ? [ca.intermediateDer] : [])]
        return {
          spiffe_id: svid.spiffeId.toString(),
          x509_svid: Buffer.concat(chain),
          x509_svid_key: privateKeyToPkcs8Der(svid.privateKey),
          bundle: ca.rootDer,
          hint: i === 0 ? 'internal' : '',
        }
      }),
    ),
    federated_bundles: {},
  })
  let current = await makeResponse()
  const streams = new Set<(r: X509SVIDResponse) => void>()
  const fake: FakeWorkloadApi = {
    socketPath: join(dir, 'workload.sock'),
    ca,
    jwtBundle,
    calls: [],
    deny: undefined,
    async rotate() {
      current = await makeResponse()
      for (const push of streams) push(current)
    },
    close: async () => {},
  }
  const record = (method: string, md: Metadata) => {
    const header = headerOk(md)
    fake.calls.push({ method, header })
    return header.length === 1 && header[0] === 'true'
  }
  const handlers: Partial<SpiffeWorkloadAPIHandlers> = {
    FetchX509SVID(call) {
      if (!record('FetchX509SVID', call.metadata)) {
        call.emit('error', fail(status.INVALID_ARGUMENT, 'security header missing from request'))
        return
      }
      if (fake.deny !== undefined) {
        call.emit('error', fail(fake.deny, 'no identity issued'))
        return
      }
      const push = (r: X509SVIDResponse) => call.write(r)
      streams.add(push)
      call.on('cancelled', () => streams.delete(push))
      push(current)
    },
    FetchJWTSVID(call, cb) {
      if (!record('FetchJWTSVID', call.metadata))
        return cb(fail(status.INVALID_ARGUMENT, 'security header missing'))
      if (fake.deny !== undefined) return cb(fail(fake.deny, 'no identity issued'))
      const audience = call.request.audience
      if (audience.length === 0) return cb(fail(status.INVALID_ARGUMENT, 'audience must be specified'))
      const wanted = ids
        .map((p) => SpiffeId.fromPath(ca.trustDomain, p))
        .filter((id) => !call.request.spiffe_id || id.toString() === call.request.spiffe_id)
      if (wanted.length === 0) return cb(fail(status.PERMISSION_DENIED, 'no identity issued'))
      Promise.all(wanted.map((spiffeId) => signer.sign({ spiffeId, audience, ttlSeconds: 300 }))).then(
        (minted) =>
          cb(null, { svids: minted.map((m) => ({ spiffe_id: m.spiffeId.toString(), svid: m.token })) }),
        (e: Error) => cb(fail(status.INTERNAL, e.message)),
      )
    },
    ValidateJWTSVID(call, cb) {
      if (!record('ValidateJWTSVID', call.metadata)) {
        return cb(fail(status.INVALID_ARGUMENT, 'security header missing'))
      }
      const { audience, svid } = call.request
      if (!audience) return cb(fail(status.INVALID_ARGUMENT, 'audience must be specified'))
      if (!svid) return cb(fail(status.INVALID_ARGUMENT, 'svid must be specified'))
      validateJwtSvid(svid, { audience, bundleFor: () => jwtBundle }).then(
        (v) => cb(null, { spiffe_id: v.spiffeId.toString(), claims: toStruct(v.claims) }),
        (e: Error) => cb(fail(status.INVALID_ARGUMENT, e.message)),
      )
    },
  }
  const server = new Server()
  server.addService(loadWorkloadApi().service, handlers as SpiffeWorkloadAPIHandlers)
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${fake.socketPath}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  )
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.forceShutdown()
      resolve()
    })
  return fake
}
