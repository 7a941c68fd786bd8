// ApprovalService over a real SQLite datastore: a hold waits for approve/deny, expires on time
// (the expiry runs even when nobody waits any more), an approval with --for covers identical
// holds, and decisions on unknown, decided or expired approvals are refused with their codes.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ApprovalService } from '../../../server/approval/approval-service.js'
import { SqliteDataStore } from '../../../server/datastore/sqlite/sqlite-data-store.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { RecordingLogger } from '../ca/ca-test-kit.js'

const KEY = {
  principal: 'spiffe://example.org/worker',
  action: 'CallTool',
  resource: 'Sigil::Tool::"payments"',
  taskId: '',
  reason: 'approval required by policy "p"',
}

async function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-appr-'))
  const datastore = await SqliteDataStore.open({ path: join(dir, 'ds.sqlite3') })
  let n = 0
  const approvals = new ApprovalService({
    datastore,
    logger: new RecordingLogger(),
    clock: () => new Date(),
    newId: () => `a-${++n}`,
  })
  t.teardown(async () => {
    approvals.close()
    await datastore.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { datastore, approvals }
}
type Setup = Awaited<ReturnType<typeof setup>>

const pending = (s: Setup) =>
  waitUntil(
    'a pending approval',
    async () => (await s.datastore.listApprovals({ status: 'pending' })).length > 0,
    {
      timeoutMs: 5000,
    },
  )

t.test('approve releases the hold; --for covers identical holds; decided twice is refused', async (t) => {
  const s = await setup(t)
  const held = s.approvals.hold({ ...KEY, timeoutSeconds: 60 })
  await pending(s)
  const approved = await s.approvals.approve('a-1', 600, 'uid 0 pid 1 exe /bin/sigil-server')
  t.equal(approved.status, 'approved')
  t.match(await held, { id: 'a-1', status: 'approved', decidedBy: 'uid 0 pid 1 exe /bin/sigil-server' })
  t.equal((await s.approvals.hold({ ...KEY, timeoutSeconds: 60 })).id, 'a-1', 'covered: no new hold')
  await t.rejects(s.approvals.approve('a-1', 0, 'x'), {
    code: 'ERR_APPROVAL_DECIDED',
    message: /already approved/,
  })
  await t.rejects(s.approvals.deny('a-1', 'no', 'x'), { code: 'ERR_APPROVAL_DECIDED' })
  await t.rejects(s.approvals.approve('zzz', 0, 'x'), {
    code: 'ERR_NOT_FOUND',
    message: /approval zzz not found/,
  })
})

t.test('approve without --for releases only the held call', async (t) => {
  const s = await setup(t)
  const held = s.approvals.hold({ ...KEY, timeoutSeconds: 60 })
  await pending(s)
  await s.approvals.approve('a-1', 0, 'op')
  t.equal((await held).status, 'approved')
  const again = s.approvals.hold({ ...KEY, timeoutSeconds: 60 })
  await waitUntil('a second hold', async () => (await s.datastore.getApproval('a-2')) !== undefined, {
    timeoutMs: 5000,
  })
  await s.approvals.deny('a-2', 'not twice', 'op')
  t.match(await again, { id: 'a-2', status: 'denied', reason: 'not twice' })
  await t.rejects(
    s.approvals.deny('a-2', ' ', 'op'),
    { code: 'ERR_INVALID_ARGUMENT' },
    'a reason is required',
  )
})

t.test(
  'a hold expires at its timeout, even when its waiter has gone; approving it then is refused',
  async (t) => {
    const s = await setup(t)
    const abort = new AbortController()
    const held = s.approvals.hold({ ...KEY, timeoutSeconds: 1 }, abort.signal)
    await pending(s)
    abort.abort()
    await t.rejects(held, { code: 'ERR_UNAVAILABLE' })
    await waitUntil(
      'the hold expires',
      async () => (await s.datastore.getApproval('a-1'))?.status === 'expired',
      {
        timeoutMs: 5000,
      },
    )
    await t.rejects(s.approvals.approve('a-1', 0, 'op'), {
      code: 'ERR_APPROVAL_DECIDED',
      message: /already expired/,
    })
    const waited = await s.approvals.hold({ ...KEY, taskId: 'task-1', timeoutSeconds: 1 })
    t.match(waited, { status: 'expired', decidedBy: 'server' }, 'a waiter gets the expiry')
  },
)

t.test('bad input: timeout out of range', async (t) => {
  const s = await setup(t)
  await t.rejects(s.approvals.hold({ ...KEY, timeoutSeconds: 0 }), { code: 'ERR_INVALID_ARGUMENT' })
  await t.rejects(s.approvals.hold({ ...KEY, timeoutSeconds: 3601 }), { code: 'ERR_INVALID_ARGUMENT' })
  await t.rejects(s.approvals.approve('a-1', -1, 'op'), { code: 'ERR_INVALID_ARGUMENT' })
})
