// Policy end to end (issue 14) with the real sigil-server and sigil-agent processes: `policy set`
// is pushed to the agent; a time-window forbid (computed from the current hour) denies in
// `policy test --context` and on a live FetchJWTSVID with the policy id in the message; an
// audience outside a task's scope is refused, the task ends drifted and its earlier token is
// rejected (revoked); an agent-side policy deny inside a task drifts the task too.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import t from 'tap'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { freePort, startSigilNode } from '../helpers/agent-process.js'
import { callTool, startAuthzToolServer } from '../helpers/authz-tool.js'
import { startTaskWorkload } from '../helpers/task-workload.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'
const WORKER = `${TD}/worker`
const TOOL = `${TD}/tool-api`
const PAYMENTS = `${TD}/payments`
const uid = process.getuid?.() ?? 0

const port = await freePort()
const node = await startSigilNode(t, { serverArgs: ['--agent-api-address', `127.0.0.1:${port}`] })
await node.createEntry(
  WORKER,
  [`unix:uid:${uid}`],
  [
    '--task-scope',
    TOOL,
    '--task-scope',
    PAYMENTS,
    '--max-task-ttl',
    '2m',
    '--owner',
    'team-a',
    '--risk',
    'high',
  ],
)
const socketPath = node.agent.socketPath
const client = new WorkloadApiClient({ socketPath })
t.teardown(() => client.close())

let files = 0
/** `policy set` through the CLI, then waits for the agent to put that version in force. */
async function setPolicy(text: string): Promise<number> {
  const path = join(node.dir, `p${++files}.cedar`)
  writeFileSync(path, text)
  const from = node.agent.logs.lines.length
  const r = await node.server.cli('policy', 'set', '--file', path, '--output', 'json')
  if (r.code !== 0) throw new Error(`policy set failed: ${r.stderr}`)
  const version = Number(JSON.parse(r.stdout).policy.version)
  await node.agent.logs.waitFor(
    (l) => l.msg === 'policy in force' && l.policy_version === version,
    `agent puts policy version ${version} in force`,
    20_000,
    from,
  )
  return version
}

async function showTask(id: string): Promise<{ task: Record<string, unknown>; events: unknown[] }> {
  const r = await node.server.cli('task', 'show', '--task-id', id, '--output', 'json')
  if (r.code !== 0) throw new Error(`task show failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

const PERMIT_ALL = '@id("allow-all")\npermit (principal, action, resource);\n'

t.test('no policy: entries alone decide; a set policy is pushed to the running agent', async (t) => {
  const jwt = await client.fetchJwtSvid({ audience: ['reports'] })
  t.equal(jwt.spiffeId.toString(), WORKER)
  const v = await setPolicy(PERMIT_ALL)
  t.equal(v, 1)
  t.equal((await client.fetchJwtSvid({ audience: ['reports'] })).spiffeId.toString(), WORKER)
})

t.test('a time-window forbid denies in policy test and on a live FetchJWTSVID', async (t) => {
  // the window is this hour and the next, so the test cannot straddle its edge
  const hour = new Date().getUTCHours()
  const next = (hour + 1) % 24
  await setPolicy(
    `${PERMIT_ALL}
@id("reports-maintenance-window")
forbid (principal is Sigil::Workload, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"reports")
when { context.hourUtc == ${hour} || context.hourUtc == ${next} };
`,
  )
  const now = Math.floor(Date.now() / 1000)
  const test = async (time: number) => {
    const r = await node.server.cli(
      'policy',
      'test',
      '--principal',
      WORKER,
      '--action',
      'FetchJWTSVID',
      '--resource',
      'reports',
      '--context',
      JSON.stringify({ time }),
      '--output',
      'json',
    )
    t.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout) as { decision: string; policy_ids: string[] }
  }
  t.match(await test(now), { decision: 'deny', policy_ids: ['reports-maintenance-window'] })
  t.match(await test(now + 4 * 3600), { decision: 'allow', policy_ids: ['allow-all'] }, 'outside the window')

  const denied = await client.fetchJwtSvid({ audience: ['reports'] }).catch((e: Error) => e)
  t.ok(denied instanceof Error, 'the live request is refused')
  t.match(String((denied as Error).message), /reports-maintenance-window/, 'the message names the policy')
  t.equal(
    (await client.fetchJwtSvid({ audience: ['dashboards'] })).spiffeId.toString(),
    WORKER,
    'another audience is not in the window',
  )

  // the audit record of the issued token names the policy that permitted it (`svid explain`)
  const issued = await client.fetchJwtSvid({ audience: ['dashboards-explained'] })
  const jti = String(decodeJwt(issued.token).jti)
  const x = await node.server.cli('svid', 'explain', '--jti', jti, '--output', 'json')
  t.equal(x.code, 0, x.stderr)
  t.same(JSON.parse(x.stdout).policies, ['allow-all'], 'svid explain names the permitting policy')
})

t.test(
  'an audience outside the task scope: refused, the task drifts, its earlier token is revoked',
  async (t) => {
    await setPolicy(PERMIT_ALL)
    const w = await startTaskWorkload(t, { dir: node.dir, socketPath })
    const begun = await w.request('begin', { options: { purpose: 'report', scope: [TOOL], ttl: 60 } })
    t.ok(begun.ok, String(begun.message))
    const taskId = String(begun.taskId)
    const first = await w.request('jwt', { taskId, audience: TOOL })
    t.ok(first.ok, String(first.message))
    const token = String(first.token)
    t.equal((await client.validateJwtSvid(token, TOOL)).spiffeId.toString(), WORKER, 'valid before the drift')

    const escalate = await w.request('jwt', { taskId, audience: `${TD}/admin` })
    t.match(escalate, { ok: false, code: 'ERR_NOT_AUTHORIZED', message: /outside the task's scope.*drifted/ })
    const shown = await showTask(taskId)
    t.match(shown.task, { state: 'ended', outcome: 'drifted', end_reason: /outside the task's scope/ })
    const human = await node.server.cli('task', 'show', '--task-id', taskId)
    t.match(human.stdout, /drifted/, '`task show` says why')
    await waitUntil('the earlier task JWT-SVID is rejected by the agent', async () => {
      const r = await client.validateJwtSvid(token, TOOL).then(
        () => 'valid',
        (e: Error) => e.message,
      )
      return /revoked/i.test(r)
    })
    const after = await w.request('jwt', { taskId, audience: TOOL })
    t.match(after, { ok: false }, 'no more credentials for a drifted task')
  },
)

t.test('an agent-side policy deny inside a task drifts it (reported by the agent)', async (t) => {
  await setPolicy(
    `${PERMIT_ALL}
@id("no-payments-for-high-risk")
forbid (principal is Sigil::Workload, action == Sigil::Action::"FetchTaskJWTSVID", resource == Sigil::Audience::"${PAYMENTS}")
when { principal.risk == "high" };
`,
  )
  const w = await startTaskWorkload(t, { dir: node.dir, socketPath })
  const begun = await w.request('begin', { options: { purpose: 'settle', scope: [TOOL, PAYMENTS], ttl: 60 } })
  t.ok(begun.ok, String(begun.message))
  const taskId = String(begun.taskId)
  const tool = await w.request('jwt', { taskId, audience: TOOL })
  t.ok(tool.ok, String(tool.message))
  const pay = await w.request('jwt', { taskId, audience: PAYMENTS })
  t.match(pay, { ok: false, code: 'ERR_NOT_AUTHORIZED', message: /no-payments-for-high-risk/ })
  await waitUntil('the task is drifted', async () => (await showTask(taskId)).task.outcome === 'drifted')
  t.match((await showTask(taskId)).task, { end_reason: /no-payments-for-high-risk/ })
  await waitUntil('the task JWT-SVID for the tool is revoked', async () =>
    client.validateJwtSvid(String(tool.token), TOOL).then(
      () => false,
      (e: Error) => /revoked/i.test(e.message),
    ),
  )
})

t.test(
  'FetchX509SVID: a forbidden identity is left out of the stream; none left → PermissionDenied',
  async (t) => {
    const before = await client.fetchX509Context()
    t.equal(before.svids[0]?.spiffeId.toString(), WORKER)
    await setPolicy(
      `${PERMIT_ALL}
@id("no-worker-x509")
forbid (principal, action == Sigil::Action::"FetchX509SVID", resource == Sigil::Identity::"${WORKER}");
`,
    )
    const denied = await client.fetchX509Context().catch((e: Error) => e)
    t.ok(denied instanceof Error, 'the only identity is forbidden: the stream is refused')
    t.match(String((denied as Error).message), /no-worker-x509/)
    await setPolicy(PERMIT_ALL)
    t.equal((await client.fetchX509Context()).svids[0]?.spiffeId.toString(), WORKER, 'allowed again')
  },
)

t.test('a Workload API call refused by policy from a process inside a task drifts its task', async (t) => {
  await setPolicy(
    `${PERMIT_ALL}
@id("no-exfil")
forbid (principal, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"https://exfil.example.net");
`,
  )
  const w = await startTaskWorkload(t, { dir: node.dir, socketPath })
  const begun = await w.request('begin', { options: { purpose: 'report', scope: [TOOL], ttl: 60 } })
  t.ok(begun.ok, String(begun.message))
  const taskId = String(begun.taskId)
  const exfil = await w.request('plainJwt', { audience: 'https://exfil.example.net' })
  t.match(exfil, { ok: false, message: /no-exfil/ })
  await waitUntil('the task is drifted', async () => (await showTask(taskId)).task.outcome === 'drifted')
  t.match((await showTask(taskId)).task, { end_reason: /no-exfil/ })
})

t.test(
  'Authorize at a tool decides with the policy set pushed to the agent (no --policy-file)',
  async (t) => {
    await setPolicy(
      `${PERMIT_ALL}\n@id("no-delete-tool")\nforbid (principal, action == Sigil::Action::"CallTool", resource == Sigil::Tool::"delete");\n`,
    )
    const minted = await node.server.cli(
      'x509',
      'mint',
      '--spiffe-id',
      TOOL,
      '--dns-name',
      'localhost',
      '--output',
      'json',
    )
    t.equal(minted.code, 0, minted.stderr)
    const { svid_pem: cert, key_pem: key } = JSON.parse(minted.stdout) as {
      svid_pem: string
      key_pem: string
    }
    const tool = await startAuthzToolServer({ socketPath, cert, key })
    t.teardown(() => tool.close())
    // the agent expects the tool server's own attested SPIFFE ID (this test process: WORKER) as audience
    const jwt = await node.server.cli('jwt', 'mint', '--spiffe-id', WORKER, '--audience', WORKER)
    t.equal(jwt.code, 0, jwt.stderr)
    const headers = { authorization: `Bearer ${jwt.stdout.trim()}` }
    const ok = await callTool(tool.port, 'search', { headers })
    t.equal(ok.status, 200, JSON.stringify(ok.body))
    t.same(ok.body.policy_ids, ['allow-all'], 'the pushed permit decides')
    const denied = await callTool(tool.port, 'delete', { headers })
    t.equal(denied.status, 403)
    t.same(denied.body.policy_ids, ['no-delete-tool'], 'the pushed forbid decides')
  },
)

t.test('a large set (2,000 policies) compiles off-thread in both daemons and decides', async (t) => {
  const forbids = Array.from(
    { length: 2000 },
    (_, i) =>
      `@id("big-${i}")\nforbid (principal, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"blocked-${i}");\n`,
  )
  const text = `${PERMIT_ALL}${forbids.join('')}`
  t.ok(Buffer.byteLength(text) >= 128 * 1024, 'large enough for the worker thread')
  await setPolicy(text)
  const denied = await client.fetchJwtSvid({ audience: ['blocked-1999'] }).catch((e: Error) => e)
  t.match(denied, { message: /denied by policy "big-1999"/ })
  t.equal((await client.fetchJwtSvid({ audience: ['reports'] })).spiffeId.toString(), WORKER)
  await setPolicy(PERMIT_ALL)
})
