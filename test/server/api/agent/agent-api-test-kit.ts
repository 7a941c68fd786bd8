// Real parts for the agent API tests: a SQLite datastore and a CaManager in a temp dir, the
// server identity, the agent API on 127.0.0.1:0 over TLS, grpc-js clients made with our
// loader (server checked by its SPIFFE ID, not a hostname), join tokens, and an x509pop PKI
// (x509pop-test-pki.ts). No key material is committed.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { credentials, type Metadata, type ServiceError } from '@grpc/grpc-js'
import { generateKeyPair, type KeyPair, privateKeyToPkcs8Pem } from '../../../../certs/keys/keys.js'
import { TrustDomain } from '../../../../certs/spiffeid/trust-domain.js'
import { signX509popChallenge } from '../../../../certs/x509pop/x509pop-proof.js'
import { createCsr } from '../../../../certs/x509svid/csr.js'
import { certificatesToPem } from '../../../../certs/x509svid/pem.js'
import type { AttestAgentRequest } from '../../../../proto/generated/sigil/agent/v1/AttestAgentRequest.js'
import type { AttestAgentResponse__Output } from '../../../../proto/generated/sigil/agent/v1/AttestAgentResponse.js'
import type { X509Svid__Output } from '../../../../proto/generated/sigil/common/v1/X509Svid.js'
import { type AgentAPIClient, loadAgentApi } from '../../../../proto/loader.js'
import { CaManager } from '../../../../server/ca/ca-manager.js'
import type { DataStore, RegistrationEntryInput } from '../../../../server/datastore/datastore.js'
import { openDataStore } from '../../../../server/datastore/open-data-store.js'
import { type AgentApiServer, startAgentApiServer } from '../../../../server/endpoints/agent-api-server.js'
import { joinTokenHash } from '../../../../server/nodeattestation/join-token-attestor.js'
import { CrlPublisher } from '../../../../server/revocation/crl-publisher.js'
import { RevocationList } from '../../../../server/revocation/revocation-list.js'
import { ServerIdentity } from '../../../../server/svid/server-identity.js'
import { TaskService } from '../../../../server/task/task-service.js'
import { FakeClock, RecordingLogger } from '../../ca/ca-test-kit.js'
import { makeX509popPki, type X509popPki } from '../../nodeattestation/x509pop-test-pki.js'

export { makeX509popPki, type X509popPki }

export const TD = TrustDomain.parse('example.org')
export const SERVER_ID = 'spiffe://example.org/sigil/server'

/** Minimal view of tap's Test used here. */
interface TapTest {
  testdir(): string
  teardown(fn: () => unknown): void
}

/** A running agent API with its real parts. */
export interface Kit {
  dir: string
  ds: DataStore
  ca: CaManager
  revocations: RevocationList
  crls: CrlPublisher
  identity: ServerIdentity
  api: AgentApiServer
  tasks: TaskService
  clock: FakeClock
  logger: RecordingLogger
  pki: X509popPki
  /** The bundle roots as PEM (what an agent is configured with). */
  rootPem(): string
  /** A client without a client certificate (AttestAgent only). */
  anonClient(): AgentAPIClient
  /** A client presenting an agent SVID. */
  agentClient(svid: { chain: readonly Buffer[]; key: KeyPair['privateKey'] }): AgentAPIClient
}

const api = loadAgentApi()
/** SNI must not be an IP address; the server is checked by its SPIFFE ID anyway. */
const CHANNEL_OPTIONS = { 'grpc.ssl_target_name_override': 'sigil-server' }

function checkServerId(_host: string, cert: { subjectaltname?: string }): Error | undefined {
  return cert.subjectaltname === `URI:${SERVER_ID}`
    ? undefined
    : new Error(`unexpected server ${cert.subjectaltname}`)
}

/** Starts everything for one test; torn down with the test. */
export async function startKit(
  t: TapTest,
  opts: {
    maxMessageBytes?: number
    agentSvidTtlSeconds?: number
    x509pop?: boolean
    x509popPki?: (dir: string) => X509popPki
    /** Fake clock start (ms); default the current second. */
    clockStart?: number
    caTtlSeconds?: number
    tlsRefreshMs?: number
    /** Run the CA as an intermediate under this upstream root. */
    upstream?: { certDer: Buffer[]; key: KeyPair['privateKey'] }
  } = {},
): Promise<Kit> {
  const dir = t.testdir()
  // Made first: openssl stamps NotBefore with the wall clock, which the fake clock must not precede.
  const pki = opts.x509popPki ? opts.x509popPki(dir) : makeX509popPki(dir, 'node-1')
  const clock = new FakeClock(opts.clockStart ?? Math.floor(Date.now() / 1000) * 1000)
  const logger = new RecordingLogger()
  const ds = await openDataStore(
    { kind: 'sqlite', path: join(dir, 'datastore.sqlite3') },
    { clock: clock.now },
  )
  const ca = new CaManager({
    trustDomain: TD,
    dataDir: dir,
    caTtlSeconds: opts.caTtlSeconds ?? 86_400,
    ...(opts.upstream ? { upstream: opts.upstream } : {}),
    caKeyType: 'ec-p256',
    jwtKeyType: 'ec-p256',
    bundleStore: ds,
    refreshHintSeconds: 60,
    clock: clock.now,
    logger,
  })
  await ca.init()
  const identity = new ServerIdentity({ trustDomain: TD, ca, clock: clock.now, logger })
  const tasks = new TaskService({
    trustDomain: TD,
    ca,
    datastore: ds,
    logger,
    clock: clock.now,
    defaultJwtSvidTtlSeconds: 300,
  })
  const revocations = await RevocationList.load({
    datastore: ds,
    clock: clock.now,
    logger,
    unknownCredentialTtlMs: 86_400_000,
  })
  const crls = new CrlPublisher({ ca, revocations, clock: clock.now, logger })
  const server = await startAgentApiServer({
    tasks,
    address: { host: '127.0.0.1', port: 0 },
    trustDomain: TD,
    ca,
    datastore: ds,
    identity,
    logger,
    clock: clock.now,
    agentSvidTtlSeconds: opts.agentSvidTtlSeconds ?? 3600,
    defaultX509SvidTtlSeconds: 3600,
    defaultJwtSvidTtlSeconds: 300,
    ...(opts.x509pop === false ? {} : { x509popCaCerts: [pki.caDer] }),
    ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
    shutdownGraceMs: 2000,
    revocations,
    crls,
    ...(opts.tlsRefreshMs ? { tlsRefreshMs: opts.tlsRefreshMs } : {}),
  })
  const clients: AgentAPIClient[] = []
  const rootPem = () => certificatesToPem([...ca.currentBundle().x509Authorities])
  const target = `127.0.0.1:${server.port}`
  t.teardown(async () => {
    for (const c of clients) c.close()
    await server.close()
    await ds.close()
  })
  return {
    dir,
    ds,
    ca,
    revocations,
    crls,
    identity,
    api: server,
    tasks,
    clock,
    logger,
    pki,
    rootPem,
    anonClient() {
      const c = new api.Client(
        target,
        credentials.createSsl(Buffer.from(rootPem()), null, null, { checkServerIdentity: checkServerId }),
        CHANNEL_OPTIONS,
      )
      clients.push(c)
      return c
    },
    agentClient(svid) {
      const c = new api.Client(
        target,
        credentials.createSsl(
          Buffer.from(rootPem()),
          Buffer.from(privateKeyToPkcs8Pem(svid.key)),
          Buffer.from(certificatesToPem([...svid.chain])),
          { checkServerIdentity: checkServerId },
        ),
        CHANNEL_OPTIONS,
      )
      clients.push(c)
      return c
    },
  }
}

/** Stores a join token and returns it. */
export async function createJoinToken(
  kit: Kit,
  opts: { alias?: string; ttlSeconds?: number } = {},
): Promise<string> {
  const token = randomBytes(16).toString('hex')
  await kit.ds.createJoinToken({
    tokenHash: joinTokenHash(token),
    spiffeId: opts.alias ?? '',
    expiresAt: new Date(kit.clock.ms + (opts.ttlSeconds ?? 600) * 1000),
  })
  return token
}

/** An agent's SVID and key after attestation or renewal. */
export interface AgentSvid {
  svid: X509Svid__Output
  chain: Buffer[]
  key: KeyPair['privateKey']
}

/**
 * Runs one AttestAgent stream: writes `first`, answers challenges with `onChallenge`, resolves
 * every response message, or rejects with the status error.
 */
export function runAttest(
  client: AgentAPIClient,
  first: AttestAgentRequest[],
  onChallenge?: (challenge: Buffer) => AttestAgentRequest[],
  opts: { halfClose?: boolean } = {},
): Promise<AttestAgentResponse__Output[]> {
  return new Promise((resolve, reject) => {
    const stream = client.AttestAgent()
    const got: AttestAgentResponse__Output[] = []
    stream.on('data', (msg: AttestAgentResponse__Output) => {
      got.push(msg)
      if (msg.step === 'challenge' && onChallenge)
        for (const m of onChallenge(msg.challenge!)) stream.write(m)
    })
    stream.on('error', reject)
    stream.on('end', () => resolve(got))
    for (const m of first) stream.write(m)
    if (opts.halfClose) stream.end()
  })
}

/** Attests with a join token and a fresh key; resolves the agent's SVID. */
export async function attestJoinToken(kit: Kit, token: string): Promise<AgentSvid> {
  const keys = await generateKeyPair('ec-p256')
  const csr = await createCsr(keys)
  const msgs = await runAttest(kit.anonClient(), [
    { params: { type: 'join_token', payload: Buffer.from(token), csr } },
  ])
  return agentSvidFrom(msgs, keys)
}

/** Attests by x509pop with the given chain and signing key; resolves the agent's SVID. */
export async function attestX509pop(
  kit: Kit,
  chain: Buffer[],
  signingKey: KeyPair['privateKey'],
): Promise<{ svid: AgentSvid; challenges: number }> {
  const keys = await generateKeyPair('ec-p256')
  const csr = await createCsr(keys)
  let challenges = 0
  const msgs = await runAttest(
    kit.anonClient(),
    [{ params: { type: 'x509pop', payload: Buffer.concat(chain), csr } }],
    (challenge) => {
      challenges++
      return [{ challenge_response: signX509popChallenge(signingKey, challenge) }]
    },
  )
  return { svid: agentSvidFrom(msgs, keys), challenges }
}

function agentSvidFrom(msgs: AttestAgentResponse__Output[], keys: KeyPair): AgentSvid {
  const result = msgs.find((m) => m.step === 'result')?.result
  if (!result?.svid) throw new Error('no result in the AttestAgent stream')
  return { svid: result.svid, chain: result.svid.cert_chain, key: keys.privateKey }
}

/** Promisified unary call; rejects with the ServiceError. */
export function unary<Res>(
  client: AgentAPIClient,
  method:
    | 'RenewAgent'
    | 'SyncAuthorizedEntries'
    | 'BatchNewX509Svid'
    | 'NewJwtSvid'
    | 'NewWitSvid'
    | 'GetBundle'
    | 'BeginTask'
    | 'FetchTaskJwtSvid'
    | 'EndTask',
  req: object,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method].bind(client) as (
      r: object,
      cb: (err: ServiceError | null, res?: Res) => void,
    ) => unknown
    fn(req, (err, res) => (err ? reject(err) : resolve(res as Res)))
  })
}

/** The Sigil error code a status carried, if any. */
export function sigilCode(err: { metadata?: Metadata }): string | undefined {
  const v = err.metadata?.get('sigil-error-code')[0]
  return typeof v === 'string' ? v : undefined
}

/** A registration entry input with defaults. */
export function entryInput(
  over: Partial<RegistrationEntryInput> & Pick<RegistrationEntryInput, 'spiffeId' | 'parentId'>,
): RegistrationEntryInput {
  return {
    selectors: [{ type: 'unix', value: 'uid:1000' }],
    x509SvidTtl: 0,
    jwtSvidTtl: 0,
    dnsNames: [],
    hint: '',
    admin: false,
    node: false,
    federatesWith: [],
    ...over,
  }
}
