// Shared set-up for the identity cache tests: a cache over a fake server that really signs,
// a manual clock, and a fake process table (pid -> start time). Spare SVIDs are off unless a test
// asks for them (spare-svids.test.ts), so that the others can count issuance calls exactly.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import type t from 'tap'
import type { IdentityUpdate, WorkloadX509Svid } from '../../../agent/cache/identity-subscription.js'
import {
  WorkloadIdentityCache,
  type WorkloadIdentityCacheOptions,
} from '../../../agent/cache/workload-identity-cache.js'
import type { WorkloadProcess } from '../../../agent/cache/workload-process.js'
import { parseSelector } from '../../../certs/selector/selector.js'
import { collectingLogger, createFakeServer, manualClock } from './fake-server.js'

export async function setup(
  test: Pick<typeof t, 'teardown'>,
  opts: Partial<WorkloadIdentityCacheOptions> = {},
) {
  const mc = manualClock()
  const server = await createFakeServer({ clock: mc.clock })
  const { logger, lines } = collectingLogger()
  const starts = new Map<number, number>()
  const cache = new WorkloadIdentityCache({
    issuer: server.issuer,
    logger,
    clock: mc.clock,
    procStartTime: (pid) => starts.get(pid),
    maintenanceIntervalMs: 3_600_000,
    retryInitialMs: 10,
    retryMaxMs: 20,
    random: () => 0.5,
    spareSvids: 0,
    ...opts,
  })
  test.teardown(() => cache.close())
  const proc = (pid: number, startTime: number, selectors: string[]): WorkloadProcess => {
    starts.set(pid, startTime)
    return { pid, startTime, selectors: selectors.map(parseSelector) }
  }
  return { mc, server, cache, lines, starts, proc }
}

/** Lets pending immediates, timers of 0 ms and promise jobs run. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 5))

export async function identity(u: Promise<IdentityUpdate | undefined>) {
  const v = await u
  if (v?.kind !== 'identity') throw new Error(`expected an identity, got ${JSON.stringify(v)}`)
  return v.snapshot
}

export function keyMatchesLeaf(svid: WorkloadX509Svid): boolean {
  const priv = createPrivateKey({ key: svid.privateKeyPkcs8Der, format: 'der', type: 'pkcs8' })
  const fromKey = createPublicKey(priv).export({ type: 'spki', format: 'der' })
  const fromLeaf = new X509Certificate(svid.chainDer[0]!).publicKey.export({ type: 'spki', format: 'der' })
  return fromKey.equals(fromLeaf)
}

/** The error code a promise rejects with. */
export async function codeOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
    return 'resolved'
  } catch (err) {
    return (err as { code?: unknown }).code
  }
}

/** Waits (polling every 5 ms) until `cond()` holds; throws after 500 rounds, naming `what`. */
export async function until(cond: () => boolean, what = 'the condition'): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return
    await settle()
  }
  if (!cond()) throw new Error(`gave up after 500 polls waiting for ${what}`)
}

/** Resolves to 'pending' if `p` has not settled after the event loop went round a few times. */
export async function stillPending(p: Promise<unknown>): Promise<boolean> {
  let done = false
  void p.then(() => {
    done = true
  })
  await settle()
  return !done
}
