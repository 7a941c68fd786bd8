/**
 * Shared pieces of the adversarial suite (test/security/): the attacker's tools (raw bytes on a
 * socket, an agent-API client holding a stolen or forged credential) and the defender's
 * liveness probes (one legitimate request per endpoint, each on a new connection). The daemons
 * themselves come from test/helpers/server-process.ts and agent-process.ts.
 */

import { get as httpsGet } from 'node:https'
import { connect as netConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js'
import { type AdminAPIDefinition, type AgentAPIClient, loadAdminApi } from '../../proto/loader.js'
import {
  type AgentCredential,
  agentApiClient,
  attestWithJoinToken,
} from '../../scripts/bench/agent-api-client.js'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { AdminClient } from '../../server/cli/admin-client.js'
import { type ServerProcess, shortTempDir, startServerProcess } from '../helpers/server-process.js'

export type { AgentCredential }
export { agentApiClient, attestWithJoinToken }

/** Minimal view of tap's Test used here. */
export interface Teardown {
  teardown(fn: () => unknown): void
}

/** A real sigil-server for an attack test, its admin client, its bundle and agents to attest. */
export interface AttackServer {
  readonly dir: string
  readonly server: ServerProcess
  readonly admin: AdminClient
  /** `bundle show` (PEM). */
  readonly rootPem: string
  /** Attests a new agent `spiffe://example.org/<alias>` with a fresh join token. */
  attest(alias: string): Promise<AgentCredential>
}

/** Starts a sigil-server in a short temp dir; stopped at teardown. */
export async function startAttackServer(t: Teardown): Promise<AttackServer> {
  const dir = shortTempDir(t)
  const server = await startServerProcess(join(dir, 's'))
  t.teardown(() => server.stop())
  const admin = AdminClient.open(server.adminSocket)
  t.teardown(() => admin.close())
  const bundle = await server.cli('bundle', 'show')
  if (bundle.code !== 0) throw new Error(`bundle show failed: ${bundle.stderr}`)
  const rootPem = bundle.stdout
  const attest = async (alias: string) => {
    const { token } = await admin.call('CreateJoinToken', {
      spiffe_id: `spiffe://example.org/${alias}`,
      ttl: 600,
    })
    return attestWithJoinToken(server.agentApiAddress, rootPem, token)
  }
  return { dir, server, admin, rootPem, attest }
}

/** The `sigil-error-code` a server attached to a gRPC error, if any. */
export function sigilCodeOf(err: unknown): string | undefined {
  const value = (err as Partial<ServiceError> | null)?.metadata?.get('sigil-error-code')[0]
  return typeof value === 'string' ? value : undefined
}

/** The gRPC status name of an error (`PERMISSION_DENIED`), or `'none'`. */
export function statusName(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'number' ? (status[code] ?? String(code)) : 'none'
}

/** Resolves the error `promise` rejects with; fails (rejects) when it resolves instead. */
export async function refusal(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error(`${what}: was accepted`)
}

/** Where a raw connection goes: a Unix socket path, or `host:port` (optionally over TLS). */
export type RawTarget = { readonly path: string } | { readonly address: string; readonly tls?: boolean }

/**
 * Sends `bytes` on a new raw connection and resolves once the peer closes it or `idleMs` pass
 * without it doing so (then we close it): the attacker does not care which.
 */
export function sendRaw(target: RawTarget, bytes: Buffer, idleMs = 1_500): Promise<void> {
  return new Promise((resolve) => {
    let socket: Socket
    const write = () => socket.write(bytes)
    if ('path' in target) socket = netConnect(target.path, write)
    else {
      const [host, port] = splitAddress(target.address)
      socket = target.tls
        ? tlsConnect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, write)
        : netConnect(port, host, write)
    }
    socket.setTimeout(idleMs, () => socket.destroy())
    socket.on('error', () => resolve())
    socket.on('close', () => resolve())
    socket.resume()
  })
}

/** `host:port` → [host, port]. */
export function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':')
  return [address.slice(0, colon), Number(address.slice(colon + 1))]
}

/** The three kinds of junk every socket gets: random bytes, HTTP/1.1, a truncated HTTP/2 preface. */
export function junkPayloads(random: Buffer): { name: string; bytes: Buffer }[] {
  return [
    { name: 'random bytes', bytes: random },
    {
      name: 'an HTTP/1.1 request',
      bytes: Buffer.from('GET / HTTP/1.1\r\nHost: sigil\r\nConnection: keep-alive\r\n\r\n'),
    },
    { name: 'a truncated HTTP/2 preface', bytes: Buffer.from('PRI * HTTP/2.0\r\n\r\nS') },
  ]
}

/** A legitimate Workload API call on a new connection: resolves the caller's SPIFFE IDs. */
export async function workloadApiAnswers(socketPath: string): Promise<string[]> {
  const client = new WorkloadApiClient({ socketPath, timeoutMs: 10_000 })
  try {
    const ctx = await client.fetchX509Context()
    return ctx.svids.map((s) => s.spiffeId.toString())
  } finally {
    client.close()
  }
}

/** A legitimate admin call (Health) on a new connection; resolves its answer. */
export async function adminAnswers(socketPath: string): Promise<unknown> {
  const admin = AdminClient.open(socketPath)
  try {
    return await admin.call('Health', {})
  } finally {
    admin.close()
  }
}

/** A legitimate agent API call (GetBundle over mTLS) on a new channel; resolves the bundle's trust domain. */
export function agentApiAnswers(address: string, rootPem: string, cred: AgentCredential): Promise<string> {
  const client: AgentAPIClient = agentApiClient(address, rootPem, cred)
  return new Promise<string>((resolve, reject) => {
    client.GetBundle({}, { deadline: Date.now() + 10_000 }, (err, res) =>
      err || !res?.bundle ? reject(err ?? new Error('no bundle')) : resolve(res.bundle.trust_domain),
    )
  }).finally(() => client.close())
}

/** A legitimate bundle endpoint request on a new connection; resolves the HTTP status and key count. */
export function bundleEndpointAnswers(url: string): Promise<{ status: number; keys: number }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { rejectUnauthorized: false, agent: false, timeout: 10_000 }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => {
        try {
          const keys = (JSON.parse(body) as { keys?: unknown[] }).keys?.length ?? 0
          resolve({ status: res.statusCode ?? 0, keys })
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error('bundle endpoint did not answer in 10 s')))
    req.on('error', reject)
  })
}

/** Polls `check` every 50 ms until it returns a value other than undefined; rejects with `what` at the deadline. */
export async function pollUntil<T>(check: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A raw gRPC caller on the admin socket (what a script would use instead of the CLI). */
export function rawAdminClient<Res = unknown>(
  socketPath: string,
): {
  call(method: keyof AdminAPIDefinition & string, request: object): Promise<{ err?: ServiceError; res?: Res }>
  close(): void
} {
  const service = loadAdminApi().service
  const client = new Client(`unix:${socketPath}`, credentials.createInsecure())
  return {
    call: (method, request) =>
      new Promise((done) => {
        const def = service[method] as NonNullable<(typeof service)[typeof method]>
        client.makeUnaryRequest(
          def.path,
          def.requestSerialize as (r: object) => Buffer,
          def.responseDeserialize as (b: Buffer) => Res,
          request,
          new Metadata(),
          { deadline: Date.now() + 20_000 },
          (err, res) => done(err ? { err } : { res }),
        )
      }),
    close: () => client.close(),
  }
}
