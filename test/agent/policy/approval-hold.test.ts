// Holds wait (issue 14 item 5), agent and server halves together on the real Cedar engine and a
// real SQLite datastore: the agent's onHold asks the server's ApprovalService (in-process in
// place of the gRPC hop) and waits; approve releases it and the server's own signing check lets
// exactly that request through (once without --for; for the window with --for, and a second call
// in the window is not held again); deny and timeout refuse with PERMISSION_DENIED naming the
// policy; a caller that goes away ends its hold (expired, recorded), nothing left pending.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { type ApprovalAsker, approvalHold } from '../../../agent/policy/approval-hold.js'
import { PolicyPoint } from '../../../common/policy/policy-point.js'
import { ApprovalService } from '../../../server/approval/approval-service.js'
import type { AuditEvent } from '../../../server/audit/audit-event.js'
import { SqliteDataStore } from '../../../server/datastore/sqlite/sqlite-data-store.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { RecordingLogger } from '../../server/ca/ca-test-kit.js'

const SET = `@id("allow-all")
permit (principal, action, resource);
@id("payments-approval")
@approval("required")
permit (principal is Sigil::Workload, action == Sigil::Action::"FetchJWTSVID", resource == Sigil::Audience::"payments");
`
const W = { spiffeId: 'spiffe://example.org/executor' }
const check = () => ({ action: 'FetchJWTSVID' as const, workload: W, resource: 'payments', now: new Date() })

async function setup(t: Test, timeoutSeconds = 60) {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-hold-'))
  const datastore = await SqliteDataStore.open({ path: join(dir, 'ds.sqlite3') })
  const audit: AuditEvent[] = []
  let n = 0
  const approvals = new ApprovalService({
    datastore,
    logger: new RecordingLogger(),
    clock: () => new Date(),
    newId: () => `a-${++n}`,
    audit: { note: (e) => void audit.push(e), record: async () => Promise.reject(new Error('unused')) },
  })
  let asked = 0
  const server: ApprovalAsker = {
    async holdForApproval(req, signal) {
      asked++
      const a = await approvals.hold(
        {
          principal: req.principal,
          action: req.action,
          resource: req.resource,
          taskId: req.task_id,
          reason: req.reason,
          timeoutSeconds: req.timeout_seconds,
        },
        signal,
      )
      return {
        approval_id: a.id,
        status: a.status,
        reason: a.reason,
        valid_until: Math.floor(a.validUntil.getTime() / 1000),
        decided_by: a.decidedBy,
      }
    },
  }
  const agent = new PolicyPoint({
    onHold: approvalHold({ server: () => server, timeoutSeconds, logger: new RecordingLogger() }),
  })
  agent.install(1, SET)
  const authority = new PolicyPoint({ onHold: approvals.signingHold() })
  authority.install(1, SET)
  t.teardown(async () => {
    approvals.close()
    await datastore.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const pendingId = async (): Promise<string> => {
    let id = ''
    await waitUntil(
      'a pending approval',
      async () => {
        id = (await datastore.listApprovals({ status: 'pending' }))[0]?.id ?? ''
        return id !== ''
      },
      { timeoutMs: 5000 },
    )
    return id
  }
  return { datastore, approvals, agent, authority, audit, pendingId, asked: () => asked }
}

t.test('approve releases the waiting caller; the server lets that request through once', async (t) => {
  const s = await setup(t)
  const held = s.agent.enforce(check())
  const id = await s.pendingId()
  t.match(await s.datastore.getApproval(id), {
    principal: W.spiffeId,
    action: 'FetchJWTSVID',
    resource: 'Sigil::Audience::"payments"',
    taskId: '',
  })
  await s.approvals.approve(id, 0, 'uid=0 pid=1', { uid: 0, pid: 1, exe: '/bin/sigil-server' })
  t.match(await held, { decision: 'allow', policyIds: ['payments-approval'] })
  t.match(await s.authority.enforce(check()), { decision: 'allow' }, 'the signing check is not held again')
  await t.rejects(s.authority.enforce(check()), {
    code: 'ERR_NOT_AUTHORIZED',
    message: /approval required \(policy "payments-approval"\): no approval covers this request/,
  })
  t.match(
    s.audit.map((e) => [e.kind, e.decision]),
    [
      ['approval_requested', 'hold'],
      ['approval_granted', 'allow'],
    ],
  )
  t.match(s.audit[1], {
    spiffeId: W.spiffeId,
    actor: { uid: 0, pid: 1, exe: '/bin/sigil-server' },
    details: { approval_id: id, policies: ['payments-approval'], decided_by: 'uid=0 pid=1' },
  })
})

t.test('approve --for covers identical calls in the window without a new hold', async (t) => {
  const s = await setup(t)
  const held = s.agent.enforce(check())
  await s.approvals.approve(await s.pendingId(), 600, 'op')
  await held
  t.equal(s.asked(), 1)
  t.match(await s.agent.enforce(check()), { decision: 'allow' }, 'second call: covered')
  t.equal((await s.datastore.listApprovals({})).length, 1, 'no new approval')
  t.match(await s.authority.enforce(check()), { decision: 'allow' })
  t.match(await s.authority.enforce(check()), { decision: 'allow' }, 'covered for the whole window')
  await t.rejects(
    s.authority.enforce({ ...check(), task: { id: 'other-task', deadline: new Date(Date.now() + 60_000) } }),
    { code: 'ERR_NOT_AUTHORIZED' },
    'another task is not covered',
  )
})

t.test('deny refuses with the operator reason; timeout refuses', async (t) => {
  const s = await setup(t)
  const held = s.agent.enforce(check())
  const id = await s.pendingId()
  await s.approvals.deny(id, 'not today', 'op')
  await t.rejects(held, {
    code: 'ERR_NOT_AUTHORIZED',
    message: `approval ${id} denied by op: not today (approval required by policy "payments-approval")`,
  })
  const short = await setup(t, 1)
  await t.rejects(short.agent.enforce(check()), {
    code: 'ERR_NOT_AUTHORIZED',
    message: /^approval a-1 expired: nobody approved it within 1s/,
  })
  t.match(
    short.audit.map((e) => e.kind),
    ['approval_requested', 'approval_expired'],
  )
})

t.test('a caller that goes away ends its hold at once (expired, recorded)', async (t) => {
  const s = await setup(t)
  const gone = new AbortController()
  const held = s.agent.enforce(check(), gone.signal)
  const id = await s.pendingId()
  gone.abort()
  await t.rejects(held, { code: 'ERR_UNAVAILABLE' })
  await waitUntil('the hold expired', async () => (await s.datastore.getApproval(id))?.status === 'expired', {
    timeoutMs: 5000,
  })
  t.match(await s.datastore.getApproval(id), { reason: 'the caller went away before a decision' })
  t.match(s.audit.at(-1), { kind: 'approval_expired', details: { policies: ['payments-approval'] } })
  await t.rejects(s.approvals.approve(id, 0, 'op'), { code: 'ERR_APPROVAL_DECIDED' })
})

t.test('no server to ask: the hold is refused naming the policy', async (t) => {
  const point = new PolicyPoint({
    onHold: approvalHold({ server: () => undefined, timeoutSeconds: 5, logger: new RecordingLogger() }),
  })
  point.install(1, SET)
  await t.rejects(point.enforce(check()), {
    code: 'ERR_NOT_AUTHORIZED',
    message: 'approval required (policy "payments-approval"): the agent cannot reach the server to ask',
  })
})
