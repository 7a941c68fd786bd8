/**
 * `npm run bench -- revocation`: what revocation costs where it is checked. (1) The agent's
 * ValidateJWTSVID path — `validateJwtSvid` plus the revocation lookup (`refuseRevokedClaims`
 * over the agent's `RevocationSet`) — with no revocations and with 100,000 revoked jtis
 * (goal: ≤ 10 % slower); the gRPC round trip around it is the same in both and left out.
 * (2) Building one CRL with 10,000 revoked serials (P-256 CA): time and DER size.
 * (3) With real processes (revocation-agents.ts): propagation from `svid revoke` returning to
 * rejection at each of 20 agents (goal p99 ≤ 1 s), and BeginTask p50 vs FetchJWTSVID p50 in the
 * same run (goal ≤ 2×). Parts: `--only local` (1, 2), `--only agents` (3).
 */
import { createPublicKey, randomBytes, randomUUID } from 'node:crypto'
import { RevocationSet } from '../../agent/cache/revocation-set.js'
import { refuseRevokedClaims } from '../../agent/workloadapi/revoked-claims.js'
import { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { JwtSvidSigner } from '../../certs/jwtsvid/jwt-svid-signer.js'
import { validateJwtSvid } from '../../certs/jwtsvid/validate-jwt-svid.js'
import { generateKeyPair } from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../certs/x509svid/ca-certificate.js'
import { createCrl } from '../../certs/x509svid/crl.js'
import { type Benchmark, type BenchResult, combineResults, opsPerSecond, rate } from './benchmark.js'
import { agentsPart } from './revocation-agents.js'

const SECONDS = Number(process.env.SIGIL_BENCH_SECONDS ?? 3)
const REVOKED_JTIS = 100_000
const REVOKED_SERIALS = 10_000

/** The parts `--only` may pick. */
export const parts = ['local', 'agents'] as const

export const benchmark: Benchmark = async (opts = {}) => {
  const say = (line: string) => process.stdout.write(`${line}\n`)
  const results: BenchResult[] = []
  if (opts.only !== 'agents') results.push(await localPart())
  if (opts.only !== 'local') results.push(await agentsBench(say))
  return combineResults(results)
}

async function agentsBench(say: (line: string) => void): Promise<BenchResult> {
  const r = await agentsPart(say)
  const ratio = r.beginTaskP50Ms / r.fetchJwtUncachedP50Ms
  const load = `load avg ${r.load.load_avg_1m}, CPU pressure ${r.load.cpu_pressure_some_avg60_pct ?? '?'} %`
  return {
    json: {
      propagation: {
        agents: r.agents,
        revocations: r.revocations,
        p50_ms: r.propagationP50Ms,
        p99_ms: r.propagationP99Ms,
        max_ms: r.propagationMaxMs,
        missed: r.propagationMissed,
        first_agent_p50_ms: r.firstAgentP50Ms,
        last_agent_p50_ms: r.lastAgentP50Ms,
        goal_p99_ms: 1000,
        goal_met: r.propagationMissed === 0 && r.propagationP99Ms <= 1000,
        agents_start_s: r.agentsStartS,
      },
      tasks: {
        begin_task_p50_ms: r.beginTaskP50Ms,
        fetch_jwt_uncached_p50_ms: r.fetchJwtUncachedP50Ms,
        fetch_jwt_cached_p50_ms: r.fetchJwtCachedP50Ms,
        begin_over_fetch_uncached: Math.round(ratio * 100) / 100,
        goal_met: ratio <= 2,
      },
      agents_load_avg_1m: r.load.load_avg_1m,
      agents_cpu_pressure_some_avg60_pct: r.load.cpu_pressure_some_avg60_pct,
    },
    rows: [
      [
        `svid revoke → refused at each of ${r.agents} agents: p50 / p99 (${r.revocations} revocations)`,
        `${r.propagationP50Ms} / ${r.propagationP99Ms} ms`,
      ],
      ['  max, missed (goal p99 ≤ 1 s)', `${r.propagationMaxMs} ms, ${r.propagationMissed}`],
      [
        '  first / last agent to refuse, median over revocations',
        `${r.firstAgentP50Ms} / ${r.lastAgentP50Ms} ms`,
      ],
      ['BeginTask p50', `${r.beginTaskP50Ms} ms`],
      [
        'FetchJWTSVID p50: new audience (server round trip) / cached',
        `${r.fetchJwtUncachedP50Ms} / ${r.fetchJwtCachedP50Ms} ms`,
      ],
      ['BeginTask / FetchJWTSVID uncached (goal ≤ 2×)', `${ratio.toFixed(2)}×`],
      ['machine load at the end', load],
    ],
    note: `real sigil-server + ${r.agents} sigil-agent processes on this machine; refusals polled every 5 ms per agent`,
  }
}

async function localPart(): Promise<BenchResult> {
  const td = TrustDomain.parse('example.org')
  const id = SpiffeId.parse('spiffe://example.org/bench/workload')
  const jwtKey = await generateKeyPair('ec-p256')
  const signer = new JwtSvidSigner({ privateKey: jwtKey.privateKey, kid: 'bench-kid' })
  const { token } = await signer.sign({ spiffeId: id, audience: ['bench'], ttlSeconds: 300 })
  const bundle = TrustBundle.create({
    trustDomain: td,
    jwtAuthorities: [{ kid: 'bench-kid', publicKey: createPublicKey(jwtKey.privateKey) }],
  })
  const validate = (set: RevocationSet) => async () => {
    const v = await validateJwtSvid(token, { audience: 'bench', bundleFor: () => bundle })
    refuseRevokedClaims(set, v.claims)
  }
  const empty = new RevocationSet()
  const full = new RevocationSet()
  const far = Date.now() + 3_600_000
  full.apply({
    snapshot: true,
    sequence: REVOKED_JTIS,
    revoked: Array.from({ length: REVOKED_JTIS }, () => ({
      kind: 'jwt_jti',
      value: randomUUID(),
      expiresAtMs: far,
    })),
  })
  // alternate to spread machine noise over both
  const none1 = await opsPerSecond(validate(empty), SECONDS / 2)
  const many1 = await opsPerSecond(validate(full), SECONDS / 2)
  const none2 = await opsPerSecond(validate(empty), SECONDS / 2)
  const many2 = await opsPerSecond(validate(full), SECONDS / 2)
  const none = (none1 + none2) / 2
  const many = (many1 + many2) / 2
  const slower = (1 - many / none) * 100

  const ca = await generateKeyPair('ec-p256')
  const now = new Date()
  const caDer = await buildCaCertificate({
    trustDomain: td,
    publicKey: ca.publicKey,
    signerKey: ca.privateKey,
    notBefore: now,
    notAfter: new Date(now.getTime() + 86_400_000),
  })
  const revoked = Array.from({ length: REVOKED_SERIALS }, () => ({
    serialHex: randomBytes(16).toString('hex').replace(/^0+/, '1'),
    revokedAt: now,
  }))
  const build = () =>
    createCrl({
      issuerCertDer: caDer,
      issuerKey: ca.privateKey,
      revoked,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 1_800_000),
      crlNumber: 1n,
    })
  build()
  const runs = 10
  const t0 = process.hrtime.bigint()
  let size = 0
  for (let i = 0; i < runs; i++) size = build().length
  const crlMs = Number(process.hrtime.bigint() - t0) / 1e6 / runs

  return {
    json: {
      validate_jwt_no_revocations_per_s: Math.round(none),
      validate_jwt_100k_revoked_per_s: Math.round(many),
      validate_jwt_slowdown_percent: Math.round(slower * 10) / 10,
      crl_10k_serials_build_ms: Math.round(crlMs * 10) / 10,
      crl_10k_serials_bytes: size,
    },
    rows: [
      ['ValidateJWTSVID path, no revocations', rate(none)],
      [`ValidateJWTSVID path, ${REVOKED_JTIS} revoked jtis`, rate(many)],
      ['slowdown (goal ≤ 10 %)', `${slower.toFixed(1)} %`],
      [`CRL with ${REVOKED_SERIALS} serials: build`, `${crlMs.toFixed(1)} ms`],
      [`CRL with ${REVOKED_SERIALS} serials: size`, `${(size / 1024).toFixed(0)} KiB`],
    ],
    note: 'one Node thread; validation without the gRPC round trip (the same with and without revocations)',
  }
}
