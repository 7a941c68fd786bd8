// A real in-process Sigil server for the agent sync tests: SQLite and the CA manager in a temp
// dir, the server identity, and the agent API on 127.0.0.1 (port 0, or a fixed port to come
// back on after a stop). Tests create join tokens and entries directly through the datastore.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { createLogger, type Logger } from '../../../common/logging/logger.js'
import { CaManager } from '../../../server/ca/ca-manager.js'
import type { DataStore, RegistrationEntry } from '../../../server/datastore/datastore.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { type AgentApiServer, startAgentApiServer } from '../../../server/endpoints/agent-api-server.js'
import { joinTokenHash } from '../../../server/nodeattestation/join-token-attestor.js'
import { CrlPublisher } from '../../../server/revocation/crl-publisher.js'
import { RevocationList } from '../../../server/revocation/revocation-list.js'
import { ServerIdentity } from '../../../server/svid/server-identity.js'

export interface ServerKit {
  trustDomain: TrustDomain
  dir: string
  datastore: DataStore
  ca: CaManager
  revocations: RevocationList
  crls: CrlPublisher
  logs: string[]
  port: number
  address: string
  bundle(): TrustBundle
  /** Stores a join token (optionally with an alias) that expires in an hour. */
  createJoinToken(token: string, alias?: string): Promise<void>
  createEntry(spiffeId: string, parentId: string, selectors?: string[]): Promise<RegistrationEntry>
  stopApi(): Promise<void>
  startApi(): Promise<void>
  /**
   * Another agent API on the same datastore, CA and server identity (a second server of one
   * deployment), on `port` (0: a free one); closed by `close()` too.
   */
  startExtraApi(port?: number): Promise<ExtraApi>
  close(): Promise<void>
}

/** An extra agent API of a {@link ServerKit}. */
export interface ExtraApi {
  readonly port: number
  readonly address: string
  close(): Promise<void>
}

export async function startServerKit(
  opts: { trustDomain?: string; agentSvidTtlSeconds?: number; x509popCaCerts?: Buffer[] } = {},
): Promise<ServerKit> {
  const trustDomain = TrustDomain.parse(opts.trustDomain ?? 'example.org')
  const dir = mkdtempSync(join(tmpdir(), 'sigil-sync-server-'))
  const logs: string[] = []
  const logger: Logger = createLogger(
    'sigil-server',
    'debug',
    new Writable({
      write(chunk, _enc, cb) {
        logs.push(String(chunk))
        cb()
      },
    }),
  )
  const clock = () => new Date()
  const datastore = await openDataStore({ kind: 'sqlite', path: join(dir, 'datastore.sqlite3') })
  const ca = new CaManager({
    trustDomain,
    dataDir: dir,
    caTtlSeconds: 86_400,
    caKeyType: 'ec-p256',
    jwtKeyType: 'ec-p256',
    bundleStore: datastore,
    refreshHintSeconds: 300,
    clock,
    logger,
  })
  await ca.init()
  const identity = new ServerIdentity({ trustDomain, ca, clock, logger })
  await identity.init()
  const revocations = await RevocationList.load({
    datastore,
    clock,
    logger,
    unknownCredentialTtlMs: 86_400_000,
  })
  const crls = new CrlPublisher({ ca, revocations, clock, logger })
  const stopCrls = revocations.subscribe(() => crls.rebuild())
  let api: AgentApiServer | undefined
  let port = 0
  const extras = new Set<AgentApiServer>()
  const listen = (on: number) =>
    startAgentApiServer({
      address: { host: '127.0.0.1', port: on },
      trustDomain,
      ca,
      datastore,
      identity,
      logger,
      clock,
      agentSvidTtlSeconds: opts.agentSvidTtlSeconds ?? 3600,
      defaultX509SvidTtlSeconds: 3600,
      defaultJwtSvidTtlSeconds: 300,
      shutdownGraceMs: 500,
      revocations,
      crls,
      ...(opts.x509popCaCerts ? { x509popCaCerts: opts.x509popCaCerts } : {}),
    })
  const kit: ServerKit = {
    trustDomain,
    dir,
    datastore,
    ca,
    revocations,
    crls,
    logs,
    get port() {
      return port
    },
    get address() {
      return `127.0.0.1:${port}`
    },
    bundle: () => ca.currentBundle(),
    async createJoinToken(token, alias = '') {
      await datastore.createJoinToken({
        tokenHash: joinTokenHash(token),
        spiffeId: alias,
        expiresAt: new Date(Date.now() + 3_600_000),
      })
    },
    createEntry(spiffeId, parentId, selectors = ['unix:uid:1000']) {
      return datastore.createEntry({
        spiffeId,
        parentId,
        selectors: selectors.map((s) => {
          const i = s.indexOf(':')
          return { type: s.slice(0, i), value: s.slice(i + 1) }
        }),
        x509SvidTtl: 0,
        jwtSvidTtl: 0,
        dnsNames: [],
        hint: '',
        admin: false,
        node: false,
        federatesWith: [],
      })
    },
    async startApi() {
      api = await listen(port)
      port = api.port
    },
    async startExtraApi(on = 0) {
      const extra = await listen(on)
      extras.add(extra)
      return {
        port: extra.port,
        address: `127.0.0.1:${extra.port}`,
        async close() {
          extras.delete(extra)
          await extra.close()
        },
      }
    },
    async stopApi() {
      await api?.close()
      api = undefined
    },
    async close() {
      stopCrls()
      for (const extra of extras) await extra.close()
      await api?.close()
      await datastore.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await kit.startApi()
  return kit
}

/** A logger for agent-side components that keeps every entry. */
export function recordingLogger() {
  const entries: { level: string; obj: Record<string, unknown>; msg: string }[] = []
  const at =
    (level: string) =>
    (obj: Record<string, unknown>, msg: string): void => {
      entries.push({ level, obj, msg })
    }
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/** A fresh temp directory (removed by the test's teardown). */
export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'sigil-agent-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
