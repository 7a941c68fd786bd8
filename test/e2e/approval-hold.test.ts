// Holds wait, end to end (issue 14 item 5) with the real sigil-server and sigil-agent processes:
// a FetchJWTSVID that an `@approval("required")` policy holds waits at the agent; the real CLI's
// `approval approve --for 10m` releases it (decided_by = the admin caller's uid/pid/exe), an
// identical call in the window passes without a new hold, the audit trail has the
// requested/granted records with the policy id and `svid explain` lists the approval behind the
// token; `approval deny` refuses with the operator's reason; nobody deciding within
// --approval-timeout refuses; a caller that gives up ends its hold (expired, nothing pending).
// On the Task API: a held FetchTaskJWTSVID released by `approval approve` without --for gets its
// token (the server's own check lets exactly that request through once); the next identical
// call is held again, and `approval deny` refuses it and drifts the task.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import t from 'tap'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { freePort, startSigilNode } from '../helpers/agent-process.js'
import { startTaskWorkload } from '../helpers/task-workload.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'
const EXECUTOR = `${TD}/executor`
const uid = process.getuid?.() ?? 0
const TIMEOUT_S = 15
const LEDGER = `${TD}/ledger`

const port = await freePort()
const node = await startSigilNode(t, {
  serverArgs: ['--agent-api-address', `127.0.0.1:${port}`],
  agentArgs: ['--approval-timeout', `${TIMEOUT_S}s`],
})
await node.createEntry(
  EXECUTOR,
  [`unix:uid:${uid}`],
  ['--owner', 'team-pay', '--risk', 'high', '--task-scope', LEDGER, '--max-task-ttl', '2m'],
)
// a held call lasts as long as the operator takes: the caller's own deadline must allow it
const client = new WorkloadApiClient({ socketPath: node.agent.socketPath, timeoutMs: 120_000 })
t.teardown(() => client.close())

const POLICY = `@id("allow-all")
permit (principal, action, resource);

@id("money-needs-approval")
@approval("required")
permit (
  principal is Sigil::Workload,
  action == Sigil::Action::"FetchJWTSVID",
  resource is Sigil::Audience
) when {
  [Sigil::Audience::"payments", Sigil::Audience::"refunds", Sigil::Audience::"wire", Sigil::Audience::"fx"].contains(resource)
};

@id("ledger-in-a-task-needs-approval")
@approval("required")
permit (
  principal is Sigil::Workload,
  action == Sigil::Action::"FetchTaskJWTSVID",
  resource == Sigil::Audience::"${LEDGER}"
);
`

interface Approval {
  id: string
  status: string
  principal: string
  resource: string
  reason: string
  decided_by: string
}

async function approvals(status = ''): Promise<Approval[]> {
  const r = await node.server.cli(
    'approval',
    'list',
    ...(status ? ['--status', status] : []),
    '--output',
    'json',
  )
  if (r.code !== 0) throw new Error(`approval list failed: ${r.stderr}`)
  return (JSON.parse(r.stdout) as { approvals: Approval[] }).approvals
}

async function pendingFor(audience: string): Promise<Approval> {
  let found: Approval | undefined
  await waitUntil(
    `a pending approval for ${audience}`,
    async () => {
      found = (await approvals('pending')).find((a) => a.resource === `Sigil::Audience::"${audience}"`)
      return found !== undefined
    },
    { timeoutMs: 20_000 },
  )
  return found as Approval
}

t.before(async () => {
  const path = join(node.dir, 'approval.cedar')
  writeFileSync(path, POLICY)
  const from = node.agent.logs.lines.length
  const r = await node.server.cli('policy', 'set', '--file', path, '--output', 'json')
  if (r.code !== 0) throw new Error(`policy set failed: ${r.stderr}`)
  await node.agent.logs.waitFor((l) => l.msg === 'policy in force', 'the agent has the policy', 20_000, from)
})

t.test('held until `approval approve`; --for covers the next call; audited and explained', async (t) => {
  const held = client.fetchJwtSvid({ audience: ['payments'] })
  const pending = await pendingFor('payments')
  t.equal(pending.principal, EXECUTOR)
  t.match(pending.reason, /approval required by policy "money-needs-approval"/)
  const approve = await node.server.cli('approval', 'approve', '--id', pending.id, '--for', '10m')
  t.equal(approve.code, 0, approve.stderr)
  const jwt = await held
  t.equal(jwt.spiffeId.toString(), EXECUTOR, 'the held caller got its token')
  const decided = (await approvals()).find((a) => a.id === pending.id)
  t.match(decided, { status: 'approved', decided_by: new RegExp(`^uid=${uid} pid=\\d+ exe=/`) })

  const again = await client.fetchJwtSvid({ audience: ['payments'] })
  t.equal(again.spiffeId.toString(), EXECUTOR, 'a second call within --for passes')
  t.equal(
    (await approvals()).filter((a) => a.resource === 'Sigil::Audience::"payments"').length,
    1,
    'no new hold',
  )

  const audit = await node.server.cli('audit', 'list', '--spiffe-id', EXECUTOR, '--output', 'json')
  t.equal(audit.code, 0, audit.stderr)
  const records = (JSON.parse(audit.stdout).records ?? []) as {
    kind: string
    actor?: unknown
    details: Record<string, unknown>
  }[]
  const steps = records.filter((r) => r.details?.approval_id === pending.id)
  t.same(
    steps.map((r) => r.kind).sort(),
    ['approval_granted', 'approval_requested'],
    'requested and granted are audit records',
  )
  t.match(
    steps.find((r) => r.kind === 'approval_granted'),
    {
      actor: { uid },
      details: { policies: ['money-needs-approval'] },
    },
  )

  const jti = String(decodeJwt(jwt.token).jti)
  const x = await node.server.cli('svid', 'explain', '--jti', jti, '--output', 'json')
  t.equal(x.code, 0, x.stderr)
  const explained = JSON.parse(x.stdout) as {
    approvals: { kind: string; details: { approval_id: string } }[]
  }
  t.ok(
    explained.approvals.some((a) => a.kind === 'approval_granted' && a.details.approval_id === pending.id),
    'svid explain lists the approval behind the token',
  )
})

t.test('`approval deny` refuses the held caller with the reason', async (t) => {
  const held = client.fetchJwtSvid({ audience: ['refunds'] }).catch((e: unknown) => e)
  const pending = await pendingFor('refunds')
  const deny = await node.server.cli('approval', 'deny', '--id', pending.id, '--reason', 'not on a Friday')
  t.equal(deny.code, 0, deny.stderr)
  t.match(await held, {
    code: 'ERR_NOT_AUTHORIZED',
    message: new RegExp(`approval ${pending.id} denied by uid=${uid} .*: not on a Friday`),
  })
})

t.test('nobody decides within --approval-timeout: refused', async (t) => {
  const held = client.fetchJwtSvid({ audience: ['wire'] }).catch((e: unknown) => e)
  const pending = await pendingFor('wire')
  t.match(await held, {
    code: 'ERR_NOT_AUTHORIZED',
    message: new RegExp(`approval ${pending.id} expired: nobody approved it within ${TIMEOUT_S}s`),
  })
  t.equal((await approvals()).find((a) => a.id === pending.id)?.status, 'expired')
})

t.test('a caller that gives up ends its hold: expired at once, nothing left pending', async (t) => {
  const impatient = new WorkloadApiClient({ socketPath: node.agent.socketPath, timeoutMs: 1500 })
  t.teardown(() => impatient.close())
  const gaveUp = await impatient.fetchJwtSvid({ audience: ['fx'] }).catch((e: unknown) => e)
  t.ok(gaveUp instanceof Error, 'the caller gave up')
  let approval: Approval | undefined
  await waitUntil(
    'the abandoned hold is expired',
    async () => {
      approval = (await approvals()).find((a) => a.resource === 'Sigil::Audience::"fx"')
      return approval?.status === 'expired'
    },
    { timeoutMs: 10_000 },
  )
  t.equal(approval?.reason, 'the caller went away before a decision')
  t.same(await approvals('pending'), [], 'nothing pending')
})

t.test(
  'Task API: approve without --for releases that one call; the next is held again; deny drifts the task',
  async (t) => {
    const w = await startTaskWorkload(t, { dir: node.dir, socketPath: node.agent.socketPath })
    const begun = await w.request('begin', {
      options: { purpose: 'close the books', scope: [LEDGER], ttl: 90 },
    })
    t.ok(begun.ok, String(begun.message))
    const taskId = String(begun.taskId)
    const first = w.request('jwt', { taskId, audience: LEDGER })
    const pending = await pendingFor(LEDGER)
    const approve = await node.server.cli('approval', 'approve', '--id', pending.id)
    t.equal(approve.code, 0, approve.stderr)
    const got = await first
    t.ok(got.ok, `the held task call got its token: ${String(got.message)}`)
    t.equal(decodeJwt(String(got.token)).txn, taskId)

    const second = w.request('jwt', { taskId, audience: LEDGER })
    const again = await pendingFor(LEDGER)
    t.not(again.id, pending.id, 'without --for, the next identical call is a new hold')
    const deny = await node.server.cli('approval', 'deny', '--id', again.id, '--reason', 'books are closed')
    t.equal(deny.code, 0, deny.stderr)
    t.match(await second, { ok: false, code: 'ERR_NOT_AUTHORIZED', message: /books are closed/ })
    let outcome = ''
    await waitUntil(
      'the task is drifted',
      async () => {
        const r = await node.server.cli('task', 'show', '--task-id', taskId, '--output', 'json')
        outcome = String(JSON.parse(r.stdout).task.outcome ?? '')
        return outcome === 'drifted'
      },
      { timeoutMs: 10_000 },
    )
    t.equal(outcome, 'drifted')
  },
)
