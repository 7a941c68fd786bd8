// BeginTask, FetchTaskJwtSvid and EndTask over real gRPC/mTLS with the real CA and SQLite: the
// server decides (entry task scopes, max TTL, delegation tokens), task JWT-SVIDs carry txn and
// act and expire by the deadline, every decision is recorded, and the onTaskEnded hook fires.
import { status } from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import { validateJwtSvid } from '../../../../certs/jwtsvid/validate-jwt-svid.js'
import { SpiffeId } from '../../../../certs/spiffeid/spiffe-id.js'
import { verifyTxnToken } from '../../../../certs/txntoken/verify-txn-token.js'
import type { BeginTaskResponse__Output } from '../../../../proto/generated/sigil/agent/v1/BeginTaskResponse.js'
import type { EndTaskResponse__Output } from '../../../../proto/generated/sigil/agent/v1/EndTaskResponse.js'
import type { FetchTaskJwtSvidResponse__Output } from '../../../../proto/generated/sigil/agent/v1/FetchTaskJwtSvidResponse.js'
import type { TaskCredential, TaskRecord } from '../../../../server/datastore/datastore.js'
import {
  attestJoinToken,
  createJoinToken,
  entryInput,
  sigilCode,
  startKit,
  TD,
  unary,
} from './agent-api-test-kit.js'

const TOOL = 'spiffe://example.org/tool-api'
const SEARCH = 'https://search.example.org'
const P1 = '4242:1000'
const P2 = '4243:1001'

async function setup(t: Test) {
  const kit = await startKit(t)
  const a = await attestJoinToken(kit, await createJoinToken(kit))
  const b = await attestJoinToken(kit, await createJoinToken(kit))
  const planner = await kit.ds.createEntry(
    entryInput({
      spiffeId: 'spiffe://example.org/planner',
      parentId: a.svid.spiffe_id,
      taskScopes: [TOOL, SEARCH],
      maxTaskTtl: 600,
    }),
  )
  const researcher = await kit.ds.createEntry(
    entryInput({
      spiffeId: 'spiffe://example.org/researcher',
      parentId: a.svid.spiffe_id,
      selectors: [{ type: 'unix', value: 'uid:1001' }],
      taskScopes: [TOOL, SEARCH],
    }),
  )
  const noTasks = await kit.ds.createEntry(
    entryInput({
      spiffeId: 'spiffe://example.org/plain',
      parentId: a.svid.spiffe_id,
      selectors: [{ type: 'unix', value: 'uid:1002' }],
    }),
  )
  const other = await kit.ds.createEntry(
    entryInput({ spiffeId: 'spiffe://example.org/other', parentId: b.svid.spiffe_id, taskScopes: [TOOL] }),
  )
  const clientA = kit.agentClient({ chain: a.chain, key: a.key })
  const clientB = kit.agentClient({ chain: b.chain, key: b.key })
  const ended: [TaskRecord, readonly TaskCredential[]][] = []
  kit.tasks.onTaskEnded((task, issued) => {
    ended.push([task, issued])
  })
  const begin = (req: object, client = clientA) =>
    unary<BeginTaskResponse__Output>(client, 'BeginTask', {
      entry_id: planner.id,
      process_key: P1,
      purpose: 'nightly report',
      scope: [TOOL],
      ttl_seconds: 120,
      ...req,
    })
  const fetch = (req: object, client = clientA) =>
    unary<FetchTaskJwtSvidResponse__Output>(client, 'FetchTaskJwtSvid', {
      process_key: P1,
      audience: TOOL,
      entry_ids: [planner.id, researcher.id, other.id],
      ...req,
    })
  const end = (req: object, client = clientA) =>
    unary<EndTaskResponse__Output>(client, 'EndTask', { process_key: P1, outcome: 'completed', ...req })
  return { kit, a, planner, researcher, noTasks, other, clientA, clientB, ended, begin, fetch, end }
}

t.test('begin → Txn-Token → task JWT-SVID → end, all recorded; the hook gets every credential', async (t) => {
  const { kit, planner, begin, fetch, end, ended } = await setup(t)
  const now = kit.clock.now()
  const res = await begin({})
  const bundle = kit.ca.currentBundle()
  const txn = await verifyTxnToken(res.txn_token, { trustDomain: TD, bundle, now })
  t.equal(txn.txn, res.task_id)
  t.equal(txn.subject, planner.spiffeId, 'not delegated: sub is the caller')
  t.same(txn.actors, [])
  t.same(txn.scope, [TOOL])
  t.equal(res.expires_at, Math.floor(now.getTime() / 1000) + 120)
  const jwt = await fetch({ task_id: res.task_id })
  const v = await validateJwtSvid(jwt.token, { audience: TOOL, bundleFor: () => bundle, now })
  t.equal(v.claims.txn, res.task_id)
  t.notOk('act' in v.claims)
  t.ok(jwt.expires_at <= res.expires_at, 'exp <= deadline')
  const refused = await fetch({ task_id: res.task_id, audience: 'spiffe://example.org/admin' }).catch(
    (e) => e,
  )
  t.equal(refused.code, status.PERMISSION_DENIED, 'audience outside the scope')
  t.match(refused.details, /outside the task's scope; the task has drifted/)
  t.match(await kit.ds.getTask(res.task_id), {
    state: 'ended',
    outcome: 'drifted',
    endReason: /outside the task's scope/,
  })
  const again = await end({ task_id: res.task_id }).catch((e) => e)
  t.equal(again.code, status.FAILED_PRECONDITION)
  t.equal(sigilCode(again), 'ERR_TASK_ENDED')
  const late = await fetch({ task_id: res.task_id }).catch((e) => e)
  t.equal(late.code, status.FAILED_PRECONDITION, 'no credentials after the end')
  t.same(
    (await kit.ds.listTaskEvents(res.task_id)).map((e) => e.event),
    ['begun', 'jwt_issued', 'jwt_refused', 'ended', 'end_refused', 'jwt_refused'],
  )
  t.equal(ended.length, 1)
  t.same(ended[0]![1].map((c) => c.kind).sort(), ['jwt', 'txn'], 'drift revokes every credential')
  t.equal(ended[0]![0].outcome, 'drifted')
  const missing = await fetch({ task_id: 'nope' }).catch((e) => e)
  t.equal(missing.code, status.NOT_FOUND)
})

t.test('the server refuses: no task scopes, scope outside, TTL above max, bad input', async (t) => {
  const { noTasks, begin, kit } = await setup(t)
  const cases: [object, number][] = [
    [{ entry_id: noTasks.id }, status.PERMISSION_DENIED],
    [{ scope: [TOOL, 'spiffe://example.org/admin'] }, status.PERMISSION_DENIED],
    [{ ttl_seconds: 601 }, status.INVALID_ARGUMENT],
    [{ scope: [] }, status.INVALID_ARGUMENT],
    [{ scope: ['a b'] }, status.INVALID_ARGUMENT],
    [{ process_key: 'nope' }, status.INVALID_ARGUMENT],
    [{ purpose: 'x'.repeat(300) }, status.INVALID_ARGUMENT],
    [{ entry_id: 'not-an-entry' }, status.PERMISSION_DENIED],
    [{ on_behalf_of: 'garbage' }, status.PERMISSION_DENIED],
  ]
  for (const [req, code] of cases) {
    const e = await begin(req).catch((err) => err)
    t.equal(e.code, code, JSON.stringify(req).slice(0, 80))
  }
  t.same(await kit.ds.listTasks(), [], 'nothing recorded as a task')
  t.ok(
    kit.logger.entries.some((e) => e.msg === 'task refused'),
    'refusals are logged',
  )
})

t.test('another process or agent may neither fetch nor end; the agent may expire it', async (t) => {
  const { begin, fetch, end, clientB } = await setup(t)
  const { task_id } = await begin({})
  for (const e of [
    await fetch({ task_id, process_key: P2 }).catch((x) => x),
    await end({ task_id, process_key: P2 }).catch((x) => x),
    await end({ task_id, process_key: '', outcome: 'completed' }).catch((x) => x),
    await fetch({ task_id }, clientB).catch((x) => x),
    await end({ task_id, outcome: 'process_exited', process_key: '' }, clientB).catch((x) => x),
  ]) {
    t.equal(e.code, status.PERMISSION_DENIED)
  }
  const execd = await fetch({ task_id, entry_ids: [] }).catch((x) => x)
  t.equal(
    execd.code,
    status.PERMISSION_DENIED,
    'the same pid and start time without the entry (exec) is refused',
  )
  t.match(execd.details, /no longer holds/)
  t.equal((await end({ task_id, outcome: 'process_exited', process_key: '' })).outcome, 'process_exited')
})

t.test('delegation: on behalf of a JWT-SVID, then a sub-task from the Txn-Token (nested act)', async (t) => {
  const { kit, begin, fetch, researcher, planner } = await setup(t)
  const user = SpiffeId.parse('spiffe://example.org/user/alice')
  const alice = await kit.ca.signJwtSvid({ spiffeId: user, audience: [planner.spiffeId], ttlSeconds: 60 })
  const parent = await begin({ on_behalf_of: alice.token, scope: [TOOL, SEARCH] })
  const bundle = kit.ca.currentBundle()
  const now = kit.clock.now()
  const ptx = await verifyTxnToken(parent.txn_token, { trustDomain: TD, bundle, now })
  t.equal(ptx.subject, user.toString())
  t.same(ptx.actors, [planner.spiffeId])
  const child = await begin({
    entry_id: researcher.id,
    process_key: P2,
    parent_txn_token: parent.txn_token,
    scope: [TOOL],
    ttl_seconds: 3000,
  })
  const ctx = await verifyTxnToken(child.txn_token, { trustDomain: TD, bundle, now })
  t.equal(ctx.subject, user.toString(), 'the principal is kept')
  t.same(ctx.actors, [researcher.spiffeId, planner.spiffeId])
  t.ok(child.expires_at <= parent.expires_at, 'a sub-task never outlives its parent')
  t.equal((await kit.ds.getTask(child.task_id))?.parentTxn, parent.task_id)
  const jwt = await fetch({ task_id: child.task_id, process_key: P2 })
  const v = await validateJwtSvid(jwt.token, { audience: TOOL, bundleFor: () => bundle, now })
  t.same(v.claims.act, { sub: researcher.spiffeId, act: { sub: planner.spiffeId } })
  // a sub-task may not widen the parent's scope
  const widened = await kit.ds.createEntry(
    entryInput({
      spiffeId: 'spiffe://example.org/wide',
      parentId: researcher.parentId,
      selectors: [{ type: 'unix', value: 'uid:1003' }],
      taskScopes: [TOOL, 'spiffe://example.org/admin'],
    }),
  )
  const e = await begin({
    entry_id: widened.id,
    parent_txn_token: child.txn_token,
    scope: [TOOL, 'spiffe://example.org/admin'],
  }).catch((x) => x)
  t.equal(e.code, status.PERMISSION_DENIED)
  // a token addressed to someone else, an expired one, and one of an ended task are refused
  const notForMe = await kit.ca.signJwtSvid({
    spiffeId: user,
    audience: ['spiffe://example.org/x'],
    ttlSeconds: 60,
  })
  t.equal((await begin({ on_behalf_of: notForMe.token }).catch((x) => x)).code, status.PERMISSION_DENIED)
  kit.clock.advance(61_000)
  t.equal((await begin({ on_behalf_of: alice.token }).catch((x) => x)).code, status.PERMISSION_DENIED)
  await kit.tasks.end(undefined, child.task_id, 'cancelled', 'test')
  const ofEnded = await begin({ parent_txn_token: child.txn_token, scope: [TOOL] }).catch((x) => x)
  t.equal(ofEnded.code, status.PERMISSION_DENIED)
  t.match(ofEnded.details, /has ended/)
})

t.test('overdue tasks expire: on fetch, and by the server sweep', async (t) => {
  const { kit, begin, fetch } = await setup(t)
  const one = await begin({ ttl_seconds: 10 })
  const two = await begin({ ttl_seconds: 10 })
  kit.clock.advance(11_000)
  t.equal((await fetch({ task_id: one.task_id }).catch((x) => x)).code, status.FAILED_PRECONDITION)
  t.equal((await kit.ds.getTask(one.task_id))?.outcome, 'expired')
  t.equal(await kit.tasks.expireOverdue(), 1)
  t.equal((await kit.ds.getTask(two.task_id))?.outcome, 'expired')
})
