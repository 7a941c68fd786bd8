/**
 * `npm run bench -- authorize`: the agent's Authorize decision point over its Unix socket, as a
 * tool server calls it (issue 14 item 4; goal p50 ≤ 0.5 ms). A real server and agent
 * (`--policy-file` with the test's policies plus 96 filler policies, 100 in all); one gRPC
 * channel, sequential calls (closed loop, one in flight). Rows: Authorize with a JWT-SVID, with
 * the caller's X509-SVID chain, with a Txn-Token-less deny; and the agent's ValidateJWTSVID of the
 * same token on the same socket as the baseline (the same verification, no policy).
 */
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { credentials, Metadata } from '@grpc/grpc-js'
import { pemToCertificates } from '../../certs/x509svid/pem.js'
import { loadAuthzApi, loadWorkloadApi } from '../../proto/loader.js'
import { BenchScope } from './bench-scope.js'
import type { Benchmark } from './benchmark.js'
import { latencySummary } from './closed-loop.js'
import { AGENT_ID, startBenchAgent, startBenchServer } from './sigil-node.js'

const TD = 'spiffe://example.org'
const WORKER = `${TD}/bench/worker`
const TOOL = `${TD}/bench/tool`
const SAMPLES = Number(process.env.SIGIL_BENCH_AUTHZ_SAMPLES ?? 5000)
const FILLER = 96

/** The policy set: four that decide, plus filler policies on other tools and principals. */
function policyText(): string {
  const deciding = `
@id("workers-call-tools")
permit (principal == Sigil::Workload::"${WORKER}", action == Sigil::Action::"CallTool", resource);
@id("no-delete")
forbid (principal, action == Sigil::Action::"CallTool", resource == Sigil::Tool::"delete");
@id("task-scope")
forbid (principal, action == Sigil::Action::"CallTool", resource)
when { context has task && !context.task.scope.contains(resource.name) };
@id("business-hours")
forbid (principal, action == Sigil::Action::"CallTool", resource == Sigil::Tool::"reports")
when { context.hourUtc < 0 };
`
  const filler = Array.from(
    { length: FILLER },
    (_, i) => `@id("filler-${i}")
permit (principal == Sigil::Workload::"${TD}/other-${i}", action == Sigil::Action::"CallTool", resource == Sigil::Tool::"tool-${i}")
when { context has request && context.request has amount && context.request.amount < ${1000 + i} };`,
  )
  return [deciding, ...filler].join('\n')
}

type Call = (done: (err: Error | null) => void) => void

/** Runs the calls interleaved (one of each per round, so load hits all rows alike); p50/p99 per call. */
async function measure(calls: readonly Call[], samples: number): Promise<{ p50Ms: number; p99Ms: number }[]> {
  const once = (call: Call) => new Promise<void>((ok, fail) => call((e) => (e ? fail(e) : ok())))
  for (let i = 0; i < 500; i++) for (const c of calls) await once(c)
  const times = calls.map(() => [] as number[])
  for (let i = 0; i < samples; i++) {
    for (let k = 0; k < calls.length; k++) {
      const t = performance.now()
      await once(calls[k] as Call)
      times[k]?.push(performance.now() - t)
    }
  }
  return times.map((t) => latencySummary(t))
}

type Latency = { p50Ms: number; p99Ms: number }

const round = (n: number) => Math.round(n * 1000) / 1000

export const benchmark: Benchmark = () =>
  BenchScope.run(async (scope) => {
    const dir = scope.tempDir()
    const uid = process.getuid?.() ?? 0
    const policyFile = join(dir, 'policy.cedar')
    writeFileSync(policyFile, policyText())
    const server = await startBenchServer(scope, dir)
    await server.createEntries([
      { spiffeId: TOOL, selectors: [`unix:uid:${uid}`] },
      { spiffeId: WORKER, selectors: [`unix:uid:${uid}`] },
    ])
    const agent = await startBenchAgent(scope, `${dir}/agent`, server, {
      extraArgs: ['--policy-file', policyFile],
    })
    const token = (
      await server.cli('jwt', 'mint', '--spiffe-id', WORKER, '--audience', TOOL, '--ttl', '1h')
    ).trim()
    const x509 = JSON.parse(await server.cli('x509', 'mint', '--spiffe-id', WORKER, '--output', 'json')) as {
      svid_pem: string
    }
    const chain = pemToCertificates(x509.svid_pem)
    const target = `unix:${agent.socketPath}`
    const authz = new (loadAuthzApi().Client)(target, credentials.createInsecure())
    const workload = new (loadWorkloadApi().Client)(target, credentials.createInsecure())
    scope.defer(() => {
      authz.close()
      workload.close()
    })
    const md = new Metadata()
    md.set('workload.spiffe.io', 'true')
    const authorize =
      (req: object, want: string): Call =>
      (done) =>
        authz.Authorize(req, md, (e, r) =>
          done(e ?? (r?.decision === want ? null : new Error(`decision ${r?.decision}: ${r?.reasons}`))),
        )
    // entries reach the agent with its next sync: wait until the tool server is attested with them
    const deadline = Date.now() + 30_000
    for (;;) {
      const ok = await new Promise<boolean>((r) =>
        authorize(
          { credentials: { jwt_svid: token }, resource: { id: 'search' } },
          'allow',
        )((e) => r(e === null)),
      )
      if (ok) break
      if (Date.now() > deadline) throw new Error('the agent never allowed the warm-up call')
      await new Promise((r) => setTimeout(r, 200))
    }
    const [jwt, x509Row, denied, validate] = (await measure(
      [
        authorize(
          { credentials: { jwt_svid: token }, resource: { id: 'search' }, context_json: '{"method":"GET"}' },
          'allow',
        ),
        authorize({ credentials: { x509_svid_chain: chain }, resource: { id: 'search' } }, 'allow'),
        authorize({ credentials: { jwt_svid: token }, resource: { id: 'delete' } }, 'deny'),
        (done) => workload.ValidateJWTSVID({ audience: TOOL, svid: token }, md, (e) => done(e)),
      ],
      SAMPLES,
    )) as [Latency, Latency, Latency, Latency]
    const json = {
      policies: FILLER + 4,
      samples: SAMPLES,
      authorize_jwt_p50_ms: round(jwt.p50Ms),
      authorize_jwt_p99_ms: round(jwt.p99Ms),
      authorize_x509_p50_ms: round(x509Row.p50Ms),
      authorize_x509_p99_ms: round(x509Row.p99Ms),
      authorize_deny_p50_ms: round(denied.p50Ms),
      authorize_deny_p99_ms: round(denied.p99Ms),
      validate_jwt_svid_p50_ms: round(validate.p50Ms),
      validate_jwt_svid_p99_ms: round(validate.p99Ms),
      goal_p50_ms: 0.5,
      goal_met: jwt.p50Ms <= 0.5,
      agent_id: AGENT_ID,
      load_avg_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    }
    return {
      json,
      rows: [
        [
          'Authorize, JWT-SVID → allow: p50 / p99',
          `${json.authorize_jwt_p50_ms} / ${json.authorize_jwt_p99_ms} ms`,
        ],
        [
          'Authorize, X509-SVID chain → allow: p50 / p99',
          `${json.authorize_x509_p50_ms} / ${json.authorize_x509_p99_ms} ms`,
        ],
        [
          'Authorize, JWT-SVID → deny (forbid): p50 / p99',
          `${json.authorize_deny_p50_ms} / ${json.authorize_deny_p99_ms} ms`,
        ],
        [
          'baseline: ValidateJWTSVID same token: p50 / p99',
          `${json.validate_jwt_svid_p50_ms} / ${json.validate_jwt_svid_p99_ms} ms`,
        ],
        ['goal: Authorize p50 ≤ 0.5 ms', json.goal_met ? 'met' : 'NOT met'],
      ],
      note: `load avg ${json.load_avg_1m}; ${json.policies} policies, ${SAMPLES} sequential calls each, one channel, the four calls interleaved`,
    }
  })
