/**
 * `npm run bench -- policy`: what runtime policy (issue 14) costs. (1) `--only local`: Cedar
 * evaluation in-process (the agent's and the server's `PolicyPoint.decide`, on the real
 * cedar-wasm engine) with 10 / 100 / 1,000 policies: p50/p99 per decision over distinct requests
 * (a different audience each time, so the engine's per-second decision cache rarely answers),
 * and the one-off compile time of each set and of a 10,000-policy set. (2) `--only agents`: a
 * real server and agent: FetchJWTSVID p50 with a 100-policy set in force vs no policy, in the
 * same run, interleaved in rounds (goal ≤ 1.1×); the JWT-SVID is the agent's cached one (the hot
 * path: the policy is evaluated before the cache answers), plus an uncached row (a fresh
 * audience: agent and server both evaluate). Room is left for the Authorize and audit rows.
 */
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js'
import { CompiledPolicySet } from '../../common/policy/policy-engine.js'
import { PolicyPoint } from '../../common/policy/policy-point.js'
import type { JWTSVIDResponse__Output } from '../../proto/generated/JWTSVIDResponse.js'
import { loadWorkloadApi } from '../../proto/loader.js'
import { BenchScope } from './bench-scope.js'
import { type Benchmark, type BenchResult, combineResults } from './benchmark.js'
import { latencySummary } from './closed-loop.js'
import { startBenchAgent, startBenchServer } from './sigil-node.js'

const TD = 'spiffe://example.org'
const SAMPLES = Number(process.env.SIGIL_BENCH_POLICY_SAMPLES ?? 5000)
const ROUNDS = 3
const AGENT_SAMPLES = Number(process.env.SIGIL_BENCH_POLICY_AGENT_SAMPLES ?? 1500)
/** A forbid every generated set has: polling it tells when an agent has the set in force. */
const PROBE = 'probe-denied'

/** The parts `--only` may pick. */
export const parts = ['local', 'agents'] as const

/**
 * A policy set of `n` policies shaped like an operator's: one permit for everything, then
 * forbids on single workloads and audiences, time windows, risk ratings and task scopes.
 */
export function policySet(n: number): string {
  const out = [`@id("allow-all")\npermit (principal, action, resource);\n`]
  out.push(
    `@id("probe")\nforbid (principal, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"${PROBE}");\n`,
  )
  for (let i = 2; i < n; i++) {
    switch (i % 4) {
      case 0:
        out.push(
          `@id("p${i}")\nforbid (principal == Sigil::Workload::"${TD}/w${i}", action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"aud-${i}");\n`,
        )
        break
      case 1:
        out.push(
          `@id("p${i}")\nforbid (principal is Sigil::Workload, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"svc-${i}")\nwhen { context.hourUtc == ${i % 24} && principal.risk == "high" };\n`,
        )
        break
      case 2:
        out.push(
          `@id("p${i}")\nforbid (principal is Sigil::Workload, action == Sigil::Action::"FetchTaskJWTSVID", resource)\nwhen { context has task && !(context.task.scope.contains("tool-${i}")) && principal.owner == "team-${i}" };\n`,
        )
        break
      default:
        out.push(
          `@id("p${i}")\nforbid (principal is Sigil::Workload, action, resource == Sigil::Identity::"${TD}/id-${i}")\nwhen { principal.selectors.contains("unix:uid:${i}") };\n`,
        )
    }
  }
  return out.join('')
}

export const benchmark: Benchmark = async (opts = {}) => {
  const say = (line: string) => process.stdout.write(`${line}\n`)
  const results: BenchResult[] = []
  if (opts.only !== 'agents') results.push(localPart(say))
  if (opts.only !== 'local') results.push(await agentsPart(say))
  return combineResults(results)
}

const round3 = (x: number) => Math.round(x * 1000) / 1000

function localPart(say: (line: string) => void): BenchResult {
  const json: Record<string, unknown> = {}
  const rows: [string, string][] = []
  for (const n of [10, 100, 1000]) {
    const text = policySet(n)
    const t0 = performance.now()
    const set = CompiledPolicySet.compile(text, 1)
    const compileMs = performance.now() - t0
    const point = new PolicyPoint()
    point.installCompiled(set)
    const now = new Date()
    const decide = (i: number) =>
      point.decide({
        action: 'FetchJWTSVID',
        workload: {
          spiffeId: `${TD}/w${i % 997}`,
          entryId: 'e',
          owner: `team-${i % 13}`,
          risk: i % 2 === 0 ? 'high' : 'low',
          selectors: [`unix:uid:${1000 + (i % 7)}`],
        },
        agent: { spiffeId: `${TD}/agent`, attestationType: 'join_token', selectors: [] },
        resource: `aud-${i}`,
        now,
      })
    for (let i = 0; i < 500; i++) decide(SAMPLES + i) // warm-up (engine slices pre-parsed)
    const samples: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      const s = performance.now()
      decide(i)
      samples.push(performance.now() - s)
    }
    const { p50Ms, p99Ms } = latencySummary(samples)
    json[`eval_${n}`] = { policies: n, p50_ms: p50Ms, p99_ms: p99Ms, compile_ms: Math.round(compileMs) }
    rows.push([`Cedar decision, ${n} policies: p50 / p99`, `${p50Ms} / ${p99Ms} ms`])
    rows.push([`  compile ${n} policies (once per version)`, `${Math.round(compileMs)} ms`])
    say(`policy: ${n} policies: p50 ${p50Ms} ms, p99 ${p99Ms} ms, compile ${Math.round(compileMs)} ms`)
  }
  const big = policySet(10_000)
  const t0 = performance.now()
  CompiledPolicySet.compile(big, 1)
  const bigMs = Math.round(performance.now() - t0)
  json.compile_10000 = { policies: 10_000, bytes: Buffer.byteLength(big), compile_ms: bigMs }
  rows.push([`  compile 10,000 policies (${(Buffer.byteLength(big) / 1e6).toFixed(1)} MB)`, `${bigMs} ms`])
  say(`policy: 10,000 policies compiled in ${bigMs} ms`)
  json.local_load_avg_1m = round3(loadavg()[0] ?? 0)
  return { json, rows, note: `${SAMPLES} distinct requests per set, load avg ${json.local_load_avg_1m}` }
}

class JwtClient {
  readonly #client
  readonly #md = new Metadata()
  constructor(socketPath: string) {
    this.#client = new (loadWorkloadApi().Client)(`unix:${socketPath}`, credentials.createInsecure())
    this.#md.set('workload.spiffe.io', 'true')
  }
  /** Resolves the token, or undefined when the agent refuses (PERMISSION_DENIED). */
  fetch(audience: string): Promise<string | undefined> {
    return new Promise((resolve, reject) =>
      this.#client.FetchJWTSVID(
        { audience: [audience] },
        this.#md,
        (err: ServiceError | null, res?: JWTSVIDResponse__Output) => {
          if (err?.code === 7) resolve(undefined)
          else if (err || !res?.svids[0]) reject(err ?? new Error('no JWT-SVID'))
          else resolve(res.svids[0].svid)
        },
      ),
    )
  }
  close(): void {
    this.#client.close()
  }
}

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    if (await fn().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await sleep(50)
  }
}

async function agentsPart(say: (line: string) => void): Promise<BenchResult> {
  return BenchScope.run(async (scope) => {
    const dir = scope.tempDir()
    const uid = process.getuid?.() ?? 0
    const server = await startBenchServer(scope, dir)
    await server.createEntries([{ spiffeId: `${TD}/bench/policy`, selectors: [`unix:uid:${uid}`] }])
    const agent = await startBenchAgent(scope, join(dir, 'node'), server)
    const client = new JwtClient(agent.socketPath)
    scope.defer(() => client.close())
    await until('a first JWT-SVID', async () => (await client.fetch('warm-up')) !== undefined)
    const file = join(dir, 'p100.cedar')
    writeFileSync(file, policySet(100))
    const withPolicy: number[] = []
    const without: number[] = []
    const uncachedWith: number[] = []
    const uncachedWithout: number[] = []
    const measure = async (into: number[], fresh: number[], tag: string) => {
      await client.fetch('cached') // in the agent's JWT cache from here on
      for (let i = 0; i < 200; i++) await client.fetch('cached')
      for (let i = 0; i < AGENT_SAMPLES; i++) {
        const s = performance.now()
        await client.fetch('cached')
        into.push(performance.now() - s)
      }
      for (let i = 0; i < 50; i++) {
        const s = performance.now()
        await client.fetch(`fresh-${tag}-${i}`)
        fresh.push(performance.now() - s)
      }
    }
    for (let r = 0; r < ROUNDS; r++) {
      await server.cli('policy', 'set', '--clear')
      await until('no policy at the agent', async () => (await client.fetch(PROBE)) !== undefined)
      await measure(without, uncachedWithout, `none-${r}`)
      await server.cli('policy', 'set', '--file', file)
      await until('the 100-policy set at the agent', async () => (await client.fetch(PROBE)) === undefined)
      await measure(withPolicy, uncachedWith, `p100-${r}`)
      say(`policy: round ${r + 1}/${ROUNDS} done`)
    }
    const a = latencySummary(withPolicy)
    const b = latencySummary(without)
    const ua = latencySummary(uncachedWith)
    const ub = latencySummary(uncachedWithout)
    const ratio = round3(a.p50Ms / b.p50Ms)
    const uratio = round3(ua.p50Ms / ub.p50Ms)
    return {
      json: {
        fetch_jwt: {
          policies: 100,
          samples_each: withPolicy.length,
          with_policy_p50_ms: a.p50Ms,
          no_policy_p50_ms: b.p50Ms,
          with_policy_p99_ms: a.p99Ms,
          no_policy_p99_ms: b.p99Ms,
          ratio,
          goal_ratio: 1.1,
          goal_met: ratio <= 1.1,
          uncached_with_policy_p50_ms: ua.p50Ms,
          uncached_no_policy_p50_ms: ub.p50Ms,
          uncached_ratio: uratio,
        },
        agents_load_avg_1m: round3(loadavg()[0] ?? 0),
      },
      rows: [
        [
          'FetchJWTSVID p50: 100 policies / no policy (cached JWT)',
          `${a.p50Ms} / ${b.p50Ms} ms = ${ratio}× (goal ≤ 1.1×)`,
        ],
        ['FetchJWTSVID p99: 100 policies / no policy (cached JWT)', `${a.p99Ms} / ${b.p99Ms} ms`],
        [
          'FetchJWTSVID p50, fresh audience (agent + server evaluate)',
          `${ua.p50Ms} / ${ub.p50Ms} ms = ${uratio}×`,
        ],
      ],
      note: `${ROUNDS} interleaved rounds of ${AGENT_SAMPLES} calls each way, load avg ${round3(loadavg()[0] ?? 0)}`,
    }
  })
}
