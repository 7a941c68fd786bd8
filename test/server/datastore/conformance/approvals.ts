// Conformance: approvals (issue 14 item 5): a pending hold, its one decision, the approval that
// covers an identical request, expiry of ended holds, filters.
import type { Test } from 'tap'
import type { ApprovalInput } from '../../../../server/datastore/datastore.js'
import { after, type MakeStore, openStore } from './fixtures.js'

const NOW = new Date('2030-06-01T00:00:00.000Z')
const KEY = {
  principal: 'spiffe://example.org/worker',
  action: 'CallTool',
  resource: 'Sigil::Tool::"payments"',
  taskId: '',
}

function hold(over: Partial<ApprovalInput> = {}): ApprovalInput {
  return {
    ...KEY,
    id: 'a-1',
    reason: 'approval required',
    requestedAt: NOW,
    validUntil: after(NOW, 300),
    ...over,
  }
}

export function approvalTests(t: Test, makeStore: MakeStore): void {
  t.test(
    'createApproval stores a pending hold; ids are unique; list filters by status, newest first',
    async (t) => {
      const ds = await openStore(t, makeStore)
      const a = await ds.createApproval(hold())
      t.same(a, { ...hold(), status: 'pending', decidedBy: '' }, 'every field round-trips')
      await t.rejects(ds.createApproval(hold()), { code: 'ERR_INVALID_ARGUMENT' }, 'same id twice')
      await ds.createApproval(hold({ id: 'a-2', requestedAt: after(NOW, 1) }))
      t.same(
        (await ds.listApprovals()).map((x) => x.id),
        ['a-2', 'a-1'],
      )
      t.same((await ds.listApprovals({ status: 'approved' })).length, 0)
      t.same(
        (await ds.listApprovals({ limit: 1 })).map((x) => x.id),
        ['a-2'],
      )
      t.equal(await ds.getApproval('nope'), undefined)
      await t.rejects(ds.createApproval(hold({ id: '' })), TypeError)
    },
  )

  t.test(
    'decideApproval decides once; unknown → ERR_NOT_FOUND, decided → ERR_APPROVAL_DECIDED',
    async (t) => {
      const ds = await openStore(t, makeStore)
      await ds.createApproval(hold())
      const approved = await ds.decideApproval('a-1', {
        status: 'approved',
        reason: '',
        decidedBy: 'uid 0',
        decidedAt: after(NOW, 5),
        validUntil: after(NOW, 605),
      })
      t.match(approved, { status: 'approved', decidedBy: 'uid 0', reason: 'approval required' })
      t.same([approved.decidedAt, approved.validUntil], [after(NOW, 5), after(NOW, 605)])
      await t.rejects(
        ds.decideApproval('a-1', { status: 'denied', reason: 'no', decidedBy: 'x', decidedAt: NOW }),
        { code: 'ERR_APPROVAL_DECIDED' },
      )
      t.equal((await ds.getApproval('a-1'))?.status, 'approved', 'nothing changed')
      await t.rejects(
        ds.decideApproval('nope', { status: 'denied', reason: 'no', decidedBy: 'x', decidedAt: NOW }),
        { code: 'ERR_NOT_FOUND' },
      )
    },
  )

  t.test('findCoveringApproval: only an approved one for exactly the same key, while valid', async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.createApproval(hold())
    t.equal(await ds.findCoveringApproval(KEY, NOW), undefined, 'pending covers nothing')
    await ds.decideApproval('a-1', {
      status: 'approved',
      reason: '',
      decidedBy: 'op',
      decidedAt: NOW,
      validUntil: after(NOW, 600),
    })
    t.equal((await ds.findCoveringApproval(KEY, after(NOW, 10)))?.id, 'a-1')
    t.equal(await ds.findCoveringApproval(KEY, after(NOW, 600)), undefined, 'not at valid_until')
    for (const other of [
      { principal: 'spiffe://example.org/other' },
      { action: 'FetchJWTSVID' },
      { resource: 'Sigil::Tool::"wire"' },
      { taskId: 'task-1' },
    ]) {
      t.equal(
        await ds.findCoveringApproval({ ...KEY, ...other }, after(NOW, 10)),
        undefined,
        JSON.stringify(other),
      )
    }
  })

  t.test('expireApprovals marks pending holds past their end expired, and only those', async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.createApproval(hold({ id: 'old', validUntil: after(NOW, 10) }))
    await ds.createApproval(hold({ id: 'new', validUntil: after(NOW, 100) }))
    const expired = await ds.expireApprovals(after(NOW, 10))
    t.same(
      expired.map((a) => [a.id, a.status, a.decidedBy]),
      [['old', 'expired', 'server']],
    )
    t.equal((await ds.getApproval('new'))?.status, 'pending')
    t.same(await ds.expireApprovals(after(NOW, 10)), [], 'twice is harmless')
  })
}
