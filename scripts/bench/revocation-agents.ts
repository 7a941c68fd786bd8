/**
 * The multi-process part of `npm run bench -- revocation` (real binaries, sigil-node.ts):
 * (a) propagation — one `sigil-server`, AGENTS `sigil-agent` processes (each its own join token,
 * through the environment); for each of REVOCATIONS fresh JWT-SVIDs, the time from
 * `sigil-server svid revoke --jti` returning to the moment each agent's ValidateJWTSVID refuses
 * the token (polled every POLL_MS per agent, so figures carry up to POLL_MS of polling
 * granularity); (b) BeginTask p50 vs FetchJWTSVID p50 at one agent in the same run
 * (FetchJWTSVID both uncached — a fresh audience, so the agent asks the server like BeginTask
 * does — and cached). Env: SIGIL_BENCH_REVOCATION_AGENTS (20), SIGIL_BENCH_REVOCATION_COUNT (10),
 * SIGIL_BENCH_REVOCATION_TASKS (100).
 */
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js'
import type { JWTSVIDResponse__Output } from '../../proto/generated/JWTSVIDResponse.js'
import type { BeginTaskResponse__Output } from '../../proto/generated/sigil/task/v1/BeginTaskResponse.js'
import {
  loadTaskApi,
  loadWorkloadApi,
  type SpiffeWorkloadAPIClient,
  type TasksClient,
} from '../../proto/loader.js'
import { BenchScope } from './bench-scope.js'
import { latencySummary } from './closed-loop.js'
import { machineLoad } from './proc-stats.js'
import { type BenchAgent, startBenchAgent, startBenchServer } from './sigil-node.js'

const env = (name: string, fallback: number) =>
  Number(process.env[`SIGIL_BENCH_REVOCATION_${name}`] ?? fallback)
const AGENTS = env('AGENTS', 20)
const REVOCATIONS = env('COUNT', 10)
const TASK_SAMPLES = env('TASKS', 100)
const POLL_MS = 5
const GIVE_UP_MS = 10_000
const TD = 'spiffe://example.org'
const TOOL = `${TD}/bench/tool`

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const round = (n: number) => Math.round(n * 10) / 10

/** What the agents part measures. */
export interface AgentsResult {
  readonly agents: number
  readonly revocations: number
  readonly propagationP50Ms: number
  readonly propagationP99Ms: number
  readonly propagationMaxMs: number
  /** Samples that did not see a refusal within GIVE_UP_MS. */
  readonly propagationMissed: number
  /** Median over revocations of the first and of the last agent to refuse (the fan-out spread). */
  readonly firstAgentP50Ms: number
  readonly lastAgentP50Ms: number
  readonly beginTaskP50Ms: number
  readonly fetchJwtUncachedP50Ms: number
  readonly fetchJwtCachedP50Ms: number
  readonly agentsStartS: number
  readonly load: ReturnType<typeof machineLoad>
}

class AgentClients {
  readonly workload: SpiffeWorkloadAPIClient
  readonly tasks: TasksClient
  readonly md = new Metadata()
  constructor(socketPath: string) {
    // one connection per agent socket; the task client gets its own channel
    this.workload = new (loadWorkloadApi().Client)(`unix:${socketPath}`, credentials.createInsecure())
    this.tasks = new (loadTaskApi().Client)(`unix:${socketPath}`, credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    })
    this.md.set('workload.spiffe.io', 'true')
  }
  fetchJwt(audience: string): Promise<string> {
    return new Promise((resolve, reject) =>
      this.workload.FetchJWTSVID(
        { audience: [audience] },
        this.md,
        (err: ServiceError | null, res?: JWTSVIDResponse__Output) =>
          err || !res?.svids[0] ? reject(err ?? new Error('no JWT-SVID')) : resolve(res.svids[0].svid),
      ),
    )
  }
  /** Resolves true when the agent accepts the token, false when it refuses it. */
  valid(audience: string, svid: string): Promise<boolean> {
    return new Promise((resolve) =>
      this.workload.ValidateJWTSVID({ audience, svid }, this.md, (err: ServiceError | null) => resolve(!err)),
    )
  }
  beginTask(): Promise<string> {
    return new Promise((resolve, reject) =>
      this.tasks.BeginTask(
        { purpose: 'bench', scope: [TOOL], ttl_seconds: 60 },
        this.md,
        (err: ServiceError | null, res?: BeginTaskResponse__Output) =>
          err || !res ? reject(err ?? new Error('no task')) : resolve(res.task_id),
      ),
    )
  }
  endTask(taskId: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.tasks.EndTask({ task_id: taskId, outcome: 'completed' }, this.md, (err: ServiceError | null) =>
        err ? reject(err) : resolve(),
      ),
    )
  }
  close(): void {
    this.workload.close()
    this.tasks.close()
  }
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await sleep(100)
  }
}

/** Time from `revoke()` resolving to each agent refusing `token`; null when it never did. */
async function propagation(
  clients: readonly AgentClients[],
  audience: string,
  token: string,
  revoke: () => Promise<unknown>,
): Promise<(number | null)[]> {
  await revoke()
  const t0 = performance.now()
  return Promise.all(
    clients.map(async (c) => {
      for (;;) {
        if (!(await c.valid(audience, token))) return performance.now() - t0
        if (performance.now() - t0 > GIVE_UP_MS) return null
        await sleep(POLL_MS)
      }
    }),
  )
}

const p50 = (xs: number[]) => latencySummary(xs).p50Ms

/**
 * Runs both parts against real processes.
 *
 * @example
 * const r = await agentsPart((s) => process.stdout.write(s))
 */
export function agentsPart(say: (line: string) => void): Promise<AgentsResult> {
  return BenchScope.run(async (scope) => {
    const dir = scope.tempDir()
    const uid = process.getuid?.() ?? 0
    const server = await startBenchServer(scope, dir)
    const ids = Array.from({ length: AGENTS }, (_, i) => `${TD}/bench-node-${i}`)
    await server.createEntries(
      ids.map((parentId, i) => ({
        spiffeId: `${TD}/bench/rev/w${i}`,
        parentId,
        selectors: [`unix:uid:${uid}`],
        taskScopes: [TOOL],
      })),
    )
    const t0 = performance.now()
    const agents: BenchAgent[] = []
    // a few at a time: 20 Node processes starting at once on 2 cores only queue up
    for (let i = 0; i < AGENTS; i += 4) {
      agents.push(
        ...(await Promise.all(
          ids
            .slice(i, i + 4)
            .map((agentId, k) =>
              startBenchAgent(scope, `${dir}/agent-${i + k}`, server, { agentId, syncInterval: '5s' }),
            ),
        )),
      )
    }
    const agentsStartS = (performance.now() - t0) / 1000
    say(`revocation: ${AGENTS} agents up in ${agentsStartS.toFixed(1)} s`)
    const clients = agents.map((a) => new AgentClients(a.socketPath))
    scope.defer(() => {
      for (const c of clients) c.close()
    })
    await Promise.all(
      clients.map((c) => until('a JWT-SVID from each agent', 30_000, () => c.fetchJwt('warm-up'))),
    )

    // (a) propagation
    const samples: (number | null)[] = []
    const firsts: number[] = []
    const lasts: number[] = []
    for (let r = 0; r < REVOCATIONS; r++) {
      const audience = `rev-${r}`
      const token = await clients[r % clients.length]!.fetchJwt(audience)
      const before = await Promise.all(clients.map((c) => c.valid(audience, token)))
      if (!before.every(Boolean)) throw new Error('a fresh token was refused before its revocation')
      const jti = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).jti as string
      const one = await propagation(clients, audience, token, () =>
        server.cli('svid', 'revoke', '--jti', jti),
      )
      samples.push(...one)
      const got = one.filter((s): s is number => s !== null)
      if (got.length > 0) {
        firsts.push(Math.min(...got))
        lasts.push(Math.max(...got))
      }
      say(`revocation: ${r + 1}/${REVOCATIONS} revoked`)
    }
    const seen = samples.filter((s): s is number => s !== null)
    const { p50Ms, p99Ms } = latencySummary(seen)

    // (b) BeginTask vs FetchJWTSVID at one agent, interleaved
    const one = clients[0]!
    const begin: number[] = []
    const uncached: number[] = []
    const cached: number[] = []
    await one.fetchJwt('cached')
    for (let i = 0; i < TASK_SAMPLES; i++) {
      let t = performance.now()
      await one.fetchJwt(`fresh-${i}`)
      uncached.push(performance.now() - t)
      t = performance.now()
      await one.fetchJwt('cached')
      cached.push(performance.now() - t)
      t = performance.now()
      const taskId = await one.beginTask()
      begin.push(performance.now() - t)
      await one.endTask(taskId)
    }
    return {
      agents: AGENTS,
      revocations: REVOCATIONS,
      propagationP50Ms: round(p50Ms),
      propagationP99Ms: round(p99Ms),
      propagationMaxMs: round(Math.max(...seen)),
      propagationMissed: samples.length - seen.length,
      firstAgentP50Ms: round(p50(firsts)),
      lastAgentP50Ms: round(p50(lasts)),
      beginTaskP50Ms: round(p50(begin)),
      fetchJwtUncachedP50Ms: round(p50(uncached)),
      fetchJwtCachedP50Ms: round(p50(cached)),
      agentsStartS: round(agentsStartS),
      load: machineLoad(),
    }
  })
}
