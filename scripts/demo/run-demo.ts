/**
 * `npm run demo`: a multi-agent pipeline on one machine that shows what Sigil is for. One
 * sigil-server and one sigil-agent on a temp dir; four components, each its own OS process
 * running the same `node` binary as the same user, each with its own entry selected by its
 * entry script (`proc:script:`) and uid: planner → researcher → executor over mTLS, executor →
 * tool-api with a JWT-SVID. Every component lets in only the peer it expects. Lifetimes are
 * short so rotations happen while the pipeline runs. Two rogues (an unregistered script, and a
 * copycat holding planner's certificate but not its key) and deliberate wrong-peer calls must
 * all be refused. Then two governed tasks: the operator mints a JWT-SVID for a user (alice),
 * the planner begins a task on her behalf and passes its Txn-Token down; researcher and
 * executor begin sub-tasks under it, executor calls tool-api with task credentials, and
 * tool-api shows the whole chain. Once a task ends, its credentials must be refused on their
 * next use (the first task completes, the second fails midway). Then the policy scene: the
 * operator sets a Cedar policy set (`sigil-server policy set`: a time window, a task scope, an
 * approval); executor's call of the high-risk payments tool is held until the demo runs
 * `sigil-server approval list` and `approval approve --id … --for 10m` (the real CLI), and a
 * second call in that window passes at once; executor then asks for a task token outside its
 * task's scope: refused, the task is `drifted` (`task show`) and its earlier token is refused.
 * Prints a timeline and a summary; exits 0 only if every expectation held.
 *
 * Environment: DEMO_SECONDS (pipeline run time, default 45), DEMO_SVID_TTL and DEMO_JWT_TTL
 * (seconds, default 30), DEMO_INTERVAL_MS (between tasks, default 1000), DEMO_VERBOSE=1
 * (every connection and request), DEMO_KEEP=1 (keep the temp dir and its logs).
 */
import type { ChildProcess } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { stop as stopChild } from '../lib/daemons.js'
import { type ComponentProcess, spawnComponent } from './component-process.js'
import { type DemoEvent, demoSpiffeId } from './demo-event.js'
import { type Check, Scoreboard } from './scoreboard.js'
import { type SigilCluster, startSigilCluster } from './sigil-cluster.js'
import { Timeline } from './timeline.js'
import { hangingLines } from './wrap-text.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const TRUST_DOMAIN = 'example.org'
/** Registered components, in start order (each needs the one before it). */
const COMPONENTS = ['tool-api', 'executor', 'researcher', 'planner'] as const
const ROGUES = ['rogue-unregistered', 'rogue-copycat'] as const
/** Components that begin tasks (entries with --task-scope), and the longest task they may run. */
const TASK_COMPONENTS = new Set(['planner', 'researcher', 'executor'])
const MAX_TASK_TTL = '1m'
/** The user the governed tasks work for; the operator mints her JWT-SVID. */
const PRINCIPAL = `spiffe://${TRUST_DOMAIN}/user/alice`
/** Governed task runs: the first completes, the second fails midway. */
const GOVERNED = { completes: 1, fails: 2 } as const
/** The policy scene's executor: its entry's operator metadata, which the policies read. */
const EXECUTOR_METADATA = { owner: 'team-payments', risk: 'high' } as const
/**
 * The policy set the operator sets (the three examples of the README's "Policy" section, with
 * the demo's SPIFFE IDs): a time window, a task scope, an approval for the payments tool.
 */
const POLICY_SET = `@id("allow-all")
permit (principal, action, resource);

@id("reports-maintenance-window")
forbid (principal, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"spiffe://${TRUST_DOMAIN}/reports")
when { context.hourUtc >= 2 && context.hourUtc < 5 };

@id("task-scope-high-risk")
forbid (principal is Sigil::Workload, action == Sigil::Action::"FetchTaskJWTSVID", resource)
when {
  principal.risk == "high" &&
  context has task &&
  (!(context.task.scope.containsAll(context.audiences)) || context.task.onBehalfOf == principal.spiffeId)
};

@id("payments-needs-approval")
@approval("required")
permit (principal is Sigil::Workload, action == Sigil::Action::"CallTool", resource == Sigil::Tool::"payments")
when { principal.owner == "team-payments" };
`
/** How long the scene waits for the agent to put the policy set in force, or for a held call. */
const POLICY_STEP_TIMEOUT_MS = 30_000
/** The policy scene's outcomes (its checks, added to the scoreboard's). */
const policyChecks: Check[] = []

/** Deliberate attempts each makes; all must be refused. */
const ATTEMPTS = new Map([
  ['planner', 4],
  ['executor', 1],
  ['rogue-unregistered', 2],
  ['rogue-copycat', 3],
])

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name]
  const value = raw === undefined || raw === '' ? fallback : Number(raw)
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
}

const seconds = envNumber('DEMO_SECONDS', 45)
const svidTtl = Math.round(envNumber('DEMO_SVID_TTL', 30))
const jwtTtl = Math.round(envNumber('DEMO_JWT_TTL', svidTtl))
const intervalMs = envNumber('DEMO_INTERVAL_MS', 1000)
const verbose = process.env.DEMO_VERBOSE === '1'
const keep = process.env.DEMO_KEEP === '1'
const uid = process.getuid?.() ?? 0

const t0 = Date.now()
const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}
const timeline = new Timeline(t0, verbose, out, TRUST_DOMAIN)
const score = new Scoreboard()
const say = (text: string): void => timeline.say('demo', text)
const onEvent = (e: DemoEvent): void => {
  score.record(e)
  timeline.event(e)
}

const daemons = new Set<ChildProcess>()
const running = new Map<string, ComponentProcess>()
const abort = new AbortController()
let stopping = false
let interrupted = false
// Whatever happens, no child outlives the demo.
process.on('exit', () => {
  for (const child of [...daemons, ...[...running.values()].map((c) => c.child)]) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return
    interrupted = true
    say(`${signal}: stopping early`)
    abort.abort()
  })
}

/** Waits for `p`, or throws as soon as the run is cut short (Ctrl-C, a component died). */
function step<T>(p: Promise<T>): Promise<T> {
  if (abort.signal.aborted) return Promise.reject(new Error('stopped early'))
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('stopped early'))
    abort.signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => abort.signal.removeEventListener('abort', onAbort))
  })
}

/** The folder of the component scripts as the agent sees it (`proc:script:` names real paths). */
const SCRIPTS = realpathSync(HERE)
const script = (name: string): string => join(SCRIPTS, `${name}.js`)

function start(name: string, env: Record<string, string>): ComponentProcess {
  const c = spawnComponent(name, script(name), env, onEvent)
  running.set(name, c)
  say(`started ${name} (pid ${c.child.pid}): ${process.execPath} …/${name}.js`)
  void c.exited.then((code) => {
    if (stopping || ROGUES.includes(name as (typeof ROGUES)[number])) return
    const tail = c.stderrTail()
    score.fail(name, `exited on its own with code ${code}${tail ? `: ${tail}` : ''}`)
    say(`✗ ${name} exited on its own (code ${code})${tail ? `\n${tail}` : ''}`)
    abort.abort()
  })
  return c
}

async function listening(c: ComponentProcess): Promise<string> {
  const e = await step(c.waitFor((e) => e.kind === 'listening', 'listening'))
  return e.kind === 'listening' ? `https://127.0.0.1:${e.port}` : ''
}

/**
 * The governed pipeline: the operator mints the user's JWT-SVID (addressed to the planner) and
 * hands it to the planner on its stdin; the planner runs one task that completes and one that
 * fails midway. Waits until each task ended and executor used its ended credentials again.
 */
async function governedTasks(cluster: SigilCluster, planner: ComponentProcess): Promise<void> {
  const executor = running.get('executor')
  if (executor === undefined) throw new Error('executor is not running')
  const plannerId = demoSpiffeId(TRUST_DOMAIN, 'planner')
  say(
    `operator: sigil-server jwt mint --spiffe-id ${PRINCIPAL} --audience ${plannerId} --ttl 2m ` +
      "(alice's JWT-SVID: the planner gets it on its stdin; no token is ever printed)",
  )
  const mint = ['jwt', 'mint', '--spiffe-id', PRINCIPAL, '--audience', plannerId, '--ttl', '2m']
  const onBehalfOf = (await step(cluster.cli(mint))).trim()
  for (const [run, failMidway] of [
    [GOVERNED.completes, false],
    [GOVERNED.fails, true],
  ] as const) {
    say(
      failMidway
        ? `governed task ${run}: the same pipeline, but executor's second tool call fails midway; ` +
            'executor ends its sub-task as failed and tries its credentials once more'
        : `governed task ${run}: planner begins a task on behalf of ${PRINCIPAL} and sends its ` +
            'Txn-Token to researcher, who passes it on to executor; both begin sub-tasks under it ' +
            'and call tool-api with task credentials; executor then replays its ended credentials',
    )
    const replayed = executor.waitFor((e) => e.kind === 'replay' && e.run === run, `replay ${run}`)
    const ended = planner.waitFor((e) => e.kind === 'governed' && e.run === run, `governed task ${run}`)
    planner.send({ cmd: 'governed-task', run, onBehalfOf, failMidway })
    await step(Promise.all([replayed, ended]))
  }
}

/** Polls `probe` every 200 ms until it resolves a value, or fails naming `what` after `timeoutMs`. */
async function pollFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await step(probe())
    if (value !== undefined) return value
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs / 1000}s`)
    await step(sleep(200))
  }
}

/** Says the lines of a CLI's output under the operator's name, indented (`keep`: which ones). */
function sayOutput(text: string, keep: (line: string) => boolean = () => true): void {
  const lines = text
    .trimEnd()
    .split('\n')
    .filter((l) => l.trim() !== '' && keep(l))
  if (lines.length > 0) timeline.say('operator', lines.map((l) => `  ${l}`).join('\n'))
}

/**
 * The policy scene (see the module comment): the operator sets the policy set and approves the
 * held payments call through the real CLI; executor drifts out of its task's scope.
 */
async function policyScene(dir: string, cluster: SigilCluster): Promise<void> {
  const executor = running.get('executor')
  if (executor === undefined) throw new Error('executor is not running')
  const executorId = demoSpiffeId(TRUST_DOMAIN, 'executor')
  say(
    'policy scene: the operator sets a Cedar policy set — a time window, a task scope for high-risk ' +
      'workloads, and "payments needs approval" (the README\'s three examples)',
  )
  const file = join(dir, 'policy.cedar')
  writeFileSync(file, POLICY_SET)
  const logFrom = readFileSync(join(dir, 'agent.log'), 'utf8').length
  timeline.say('operator', 'sigil-server policy set --file policy.cedar')
  sayOutput(await step(cluster.cli(['policy', 'set', '--file', file])), (l) => !/SHA-256|Set at/.test(l))
  await pollFor(
    'the agent puts the policy set in force',
    async () =>
      readFileSync(join(dir, 'agent.log'), 'utf8').slice(logFrom).includes('"policy in force"')
        ? true
        : undefined,
    POLICY_STEP_TIMEOUT_MS,
  )
  say('the agent has the policy set (pushed on its update stream); every call is now decided by it')

  const mint = ['jwt', 'mint', '--spiffe-id', PRINCIPAL, '--audience', executorId, '--ttl', '2m']
  const onBehalfOf = (await step(cluster.cli(mint))).trim()
  const stepOf = (name: string) =>
    executor.waitFor((e) => e.kind === 'policy' && (e.step === name || e.step === 'failed'), name, 120_000)
  const paid = stepOf('payments')
  const paidAgain = stepOf('payments-again')
  const drift = stepOf('drift')
  const replay = stepOf('drift-replay')
  executor.send({ cmd: 'policy-scene', onBehalfOf })

  interface PendingApproval {
    id: string
    principal: string
    resource: string
  }
  const pending = await pollFor(
    'a pending approval for the payments tool',
    async () => {
      const json = await cluster.cli(['approval', 'list', '--status', 'pending', '--output', 'json'])
      const list = (JSON.parse(json) as { approvals: PendingApproval[] }).approvals
      return list.find((a) => a.resource === 'Sigil::Tool::"payments"')
    },
    POLICY_STEP_TIMEOUT_MS,
  )
  say(`executor's payments call is held (approval ${pending.id}); the operator looks at what waits:`)
  timeline.say('operator', 'sigil-server approval list --status pending')
  sayOutput(
    await step(cluster.cli(['approval', 'list', '--status', 'pending'])),
    (l) => !/Requested at/.test(l),
  )
  timeline.say('operator', `sigil-server approval approve --id ${pending.id} --for 10m`)
  const approved = await step(cluster.cli(['approval', 'approve', '--id', pending.id, '--for', '10m']))
  sayOutput(approved, (l) => /^Approved|Status|Decided by|Valid until/.test(l.trim()))
  const [p1, p2] = await step(Promise.all([paid, paidAgain]))
  const decidedBy = /Decided by\s*:\s*(.+)/i.exec(approved)?.[1]?.trim() ?? ''
  policyChecks.push(
    {
      ok: p1.kind === 'policy' && p1.step === 'payments' && p1.ok,
      what: 'the payments call was held, approved through the CLI, and went through',
      evidence: decidedBy ? `decided by ${decidedBy}` : '',
    },
    {
      ok: p2.kind === 'policy' && p2.step === 'payments-again' && p2.ok,
      what: 'a second payments call within --for 10m passed without a new hold',
      evidence: '',
    },
  )

  const [d, r] = await step(Promise.all([drift, replay]))
  const taskId = d.kind === 'policy' ? (d.taskId ?? '') : ''
  let state = ''
  if (taskId !== '') {
    timeline.say('operator', `sigil-server task show --task-id ${taskId}`)
    const shown = JSON.parse(
      await step(cluster.cli(['task', 'show', '--task-id', taskId, '--output', 'json'])),
    ) as {
      task: { state?: string; outcome?: string; end_reason?: string; reason?: string }
    }
    state = shown.task.outcome ?? shown.task.state ?? ''
    const why = shown.task.end_reason ?? shown.task.reason ?? ''
    timeline.say(
      'operator',
      `  task ${taskId.slice(0, 8)}…: ${shown.task.state ?? '?'}, outcome ${state}${why ? ` — ${why}` : ''}`,
    )
  }
  policyChecks.push(
    {
      ok: d.kind === 'policy' && d.step === 'drift' && d.ok && state === 'drifted',
      what: "executor's task drifted when it asked outside its scope",
      evidence: state ? `task show: ${state}` : '',
    },
    {
      ok: r.kind === 'policy' && r.step === 'drift-replay' && r.ok,
      what: "the drifted task's earlier token was refused",
      evidence: '',
    },
  )
}

async function runPipeline(dir: string, cluster: SigilCluster): Promise<void> {
  const shared = join(dir, 'shared')
  mkdirSync(shared, { mode: 0o755 })
  const base = {
    SPIFFE_ENDPOINT_SOCKET: `unix://${cluster.socketPath}`,
    DEMO_TRUST_DOMAIN: TRUST_DOMAIN,
    DEMO_SHARED_DIR: shared,
    DEMO_INTERVAL_MS: String(intervalMs),
  }
  const toolApiUrl = await listening(start('tool-api', base))
  const executorUrl = await listening(start('executor', { ...base, DEMO_TOOL_API_URL: toolApiUrl }))
  const researcherUrl = await listening(
    start('researcher', { ...base, DEMO_EXECUTOR_URL: executorUrl, DEMO_TOOL_API_URL: toolApiUrl }),
  )
  const urls = {
    DEMO_TOOL_API_URL: toolApiUrl,
    DEMO_EXECUTOR_URL: executorUrl,
    DEMO_RESEARCHER_URL: researcherUrl,
  }
  const planner = start('planner', { ...base, ...urls })
  const began = await step(planner.waitFor((e) => e.kind === 'identity', 'identity'))
  say(
    `pipeline running for ${seconds}s, a task every ${intervalMs} ms: planner → researcher → executor → ` +
      'tool-api. A task line shows the serial each of them presented, in that order; * marks a new one.',
  )
  const until = began.t + seconds * 1000
  const probed = (e: DemoEvent): boolean => e.kind === 'attempt' && /expecting researcher/.test(e.name)
  await step(planner.waitFor(probed, 'its wrong-peer attempts'))
  for (const rogue of ROGUES) {
    say(`launching ${rogue}: an unregistered script, same user, same node binary`)
    await step(start(rogue, { ...base, DEMO_RESEARCHER_URL: researcherUrl }).exited)
  }
  await governedTasks(cluster, planner)
  await policyScene(dir, cluster)
  await sleep(Math.max(0, until - Date.now()), undefined, { signal: abort.signal }).catch(() => {})
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-demo-'))
  chmodSync(dir, 0o755)
  let cluster: SigilCluster | undefined
  let endedAt = Date.now()
  say(`Sigil demo: ${TRUST_DOMAIN}, X509-SVIDs live ${svidTtl}s, JWT-SVIDs ${jwtTtl}s, uid ${uid}`)
  timeline.explain()
  say(`work dir ${dir}`)
  say(`component scripts (…/ below): ${SCRIPTS}`)
  try {
    const entries = COMPONENTS.map((name) => ({
      spiffeId: demoSpiffeId(TRUST_DOMAIN, name),
      selectors: [`unix:uid:${uid}`, `proc:script:${script(name)}`],
      x509SvidTtl: `${svidTtl}s`,
      jwtSvidTtl: `${jwtTtl}s`,
      ...(TASK_COMPONENTS.has(name)
        ? { taskScopes: [demoSpiffeId(TRUST_DOMAIN, 'tool-api')], maxTaskTtl: MAX_TASK_TTL }
        : {}),
      ...(name === 'executor' ? EXECUTOR_METADATA : {}),
    }))
    cluster = await step(startSigilCluster(dir, TRUST_DOMAIN, entries, (child) => daemons.add(child)))
    const { server, agent } = cluster
    say(`started sigil-server (pid ${server.pid}), sigil-agent (pid ${agent.pid}) as ${cluster.agentId}`)
    say(`SPIFFE_ENDPOINT_SOCKET=unix://${cluster.socketPath}`)
    for (const e of entries) {
      const tasks = e.taskScopes ? `; tasks may call ${e.taskScopes.join(' ')} for ≤ ${e.maxTaskTtl}` : ''
      say(`entry ${e.spiffeId} ← ${e.selectors.join(' + ').replace(`${SCRIPTS}/`, '…/')}${tasks}`)
    }
    await runPipeline(dir, cluster)
  } catch (err) {
    // A cut-short run was already explained (Ctrl-C, or the component that died).
    if (!abort.signal.aborted) {
      score.fail('demo', (err as Error).message)
      say(`✗ ${(err as Error).message}`)
    }
  } finally {
    endedAt = Date.now()
    stopping = true
    say('stopping components, then the agent and the server')
    for (const name of [...COMPONENTS].reverse()) await stopChild(running.get(name)?.child)
    for (const name of ROGUES) await stopChild(running.get(name)?.child)
    await cluster?.stop()
    for (const d of daemons) await stopChild(d)
    if (keep) say(`kept ${dir} (server.log, agent.log)`)
    else rmSync(dir, { recursive: true, force: true })
  }
  out('')
  out('Summary')
  out(score.table([...COMPONENTS, ...ROGUES], TRUST_DOMAIN))
  out('')
  const checks = score.checks({
    identities: new Map(COMPONENTS.map((name) => [name, demoSpiffeId(TRUST_DOMAIN, name)])),
    attempts: ATTEMPTS,
    x509TtlMs: svidTtl * 1000,
    endedAt,
    governed: { principal: PRINCIPAL, ...GOVERNED },
  })
  const policyDue = [
    'the payments call was held, approved through the CLI, and went through',
    'a second payments call within --for 10m passed without a new hold',
    "executor's task drifted when it asked outside its scope",
    "the drifted task's earlier token was refused",
  ]
  for (const what of policyDue)
    checks.push(policyChecks.find((c) => c.what === what) ?? { ok: false, what, evidence: 'not reached' })
  out('Expected outcomes')
  for (const c of checks) {
    const mark = c.skipped ? '–' : c.ok ? '✓' : '✗'
    for (const line of hangingLines(`  ${mark} `, `${c.what}${c.evidence ? ` (${c.evidence})` : ''}`))
      out(line)
  }
  const failed = checks.filter((c) => !c.ok)
  out('')
  if (interrupted) {
    out('DEMO INTERRUPTED')
    return 130
  }
  if (failed.length > 0) {
    const why = failed.map((c) => c.what).join('; ')
    for (const line of hangingLines('DEMO FAILED: ', `${failed.length} expectation(s) not met: ${why}`))
      out(line)
    return 1
  }
  const due = checks.filter((c) => !c.skipped).length
  out(`DEMO PASSED: all ${due} expected outcomes happened`)
  return 0
}

process.exit(await main())
