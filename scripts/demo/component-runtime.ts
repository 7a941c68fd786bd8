/**
 * What every registered demo component does the same way: get its identity from the agent
 * through the SDK (one Workload API client shared by its X.509 and JWT sources), report that
 * identity and every rotation, take the orchestrator's commands (one JSON object a line on
 * stdin), and stop cleanly on SIGTERM/SIGINT or when the orchestrator's pipe closes (so a
 * component never outlives a crashed orchestrator).
 *
 * Trust: the component holds nothing but what the agent hands it over the Unix socket in
 * SPIFFE_ENDPOINT_SOCKET; the agent decided who it is from the kernel's view of the process.
 */
import { JWTSource, type SigilError, WorkloadApiClient, X509Source } from '../../sdk/index.js'
import { type DemoEventBody, demoSpiffeId, emit } from './demo-event.js'

/** A running component: its sources, its peers' IDs and its way of reporting. */
export interface Component {
  readonly name: string
  readonly trustDomain: string
  readonly client: WorkloadApiClient
  readonly x509: X509Source
  /** The SPIFFE ID of another demo component. */
  idOf(component: string): string
  /** Reports one event (stdout, one JSON line). */
  emit(body: DemoEventBody): void
  /** A required environment variable (exits with a failure event when it is missing). */
  env(name: string): string
  /** Runs `fn` on the way out (in reverse order of registration). */
  onStop(fn: () => unknown): void
  /** A JWT source on the same Workload API client (created on first use). */
  jwt(): Promise<JWTSource>
  /** Calls `fn` with every command the orchestrator sends (a JSON object per stdin line). */
  onCommand(fn: (command: Readonly<Record<string, unknown>>) => void): void
}

/** How long a component waits for its first SVID before giving up. */
const FIRST_SVID_TIMEOUT_MS = 30_000
/** How long a component may take to stop before it exits anyway. */
const STOP_GRACE_MS = 5_000

/**
 * Starts a component: fetches its X509-SVID (resolving once it has one) and reports
 * `identity`, then `rotation` whenever the agent pushes a new serial.
 *
 * @example
 * const c = await startComponent('researcher')
 * c.x509.getX509Svid().spiffeId.toString() // 'spiffe://example.org/demo/researcher'
 */
export async function startComponent(name: string): Promise<Component> {
  const trustDomain = process.env.DEMO_TRUST_DOMAIN ?? 'example.org'
  const report = (body: DemoEventBody): void => emit(name, body)
  const fail = (reason: string): never => {
    report({ kind: 'failure', reason })
    process.exit(1)
  }
  const stoppers: (() => unknown)[] = []
  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(0), STOP_GRACE_MS).unref()
    for (const fn of stoppers.reverse()) {
      try {
        await fn()
      } catch {
        // best effort on the way out
      }
    }
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop())
  process.on('SIGINT', () => void stop())
  const commandListeners: ((command: Readonly<Record<string, unknown>>) => void)[] = []
  let pending = ''
  process.stdin.on('data', (d: Buffer) => {
    pending += d.toString()
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      let command: unknown
      try {
        command = JSON.parse(line)
      } catch {
        continue
      }
      if (typeof command !== 'object' || command === null) continue
      for (const fn of commandListeners) fn(command as Record<string, unknown>)
    }
  })
  process.stdin.on('end', () => void stop())

  const onError = (err: SigilError): void => {
    if (!stopping) report({ kind: 'notice', text: `Workload API: ${err.message} (${err.code})` })
  }
  const client = new WorkloadApiClient()
  stoppers.push(() => client.close())
  let x509: X509Source
  try {
    x509 = await X509Source.create({ client, signal: AbortSignal.timeout(FIRST_SVID_TIMEOUT_MS), onError })
  } catch (err) {
    return fail(`no X509-SVID from the agent: ${(err as Error).message}`)
  }
  stoppers.push(() => x509.close())
  let current = x509.getX509Svid()
  report({
    kind: 'identity',
    spiffeId: current.spiffeId.toString(),
    serial: current.serialNumber,
    expiresAt: current.expiresAt.toISOString(),
  })
  x509.onUpdate(() => {
    const next = x509.getX509Svid()
    if (next.serialNumber === current.serialNumber) return
    report({
      kind: 'rotation',
      spiffeId: next.spiffeId.toString(),
      serial: next.serialNumber,
      previousSerial: current.serialNumber,
      expiresAt: next.expiresAt.toISOString(),
    })
    current = next
  })

  let jwt: Promise<JWTSource> | undefined
  return {
    name,
    trustDomain,
    client,
    x509,
    idOf: (component) => demoSpiffeId(trustDomain, component),
    emit: report,
    env: (key) => process.env[key] || fail(`${key} is not set`),
    onStop: (fn) => {
      stoppers.push(fn)
    },
    jwt: () => {
      jwt ??= JWTSource.create({ client, signal: AbortSignal.timeout(FIRST_SVID_TIMEOUT_MS), onError }).then(
        (source) => {
          stoppers.push(() => source.close())
          return source
        },
        (err: unknown) => fail(`no JWT bundles from the agent: ${(err as Error).message}`),
      )
      return jwt
    },
    onCommand: (fn) => {
      commandListeners.push(fn)
    },
  }
}
