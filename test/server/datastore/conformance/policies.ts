// Conformance: policy versions (append-only, numbered from 1), the operator metadata of
// registration entries (owner, purpose, risk) and the 'drifted' task outcome (issue 14).
import { createHash } from 'node:crypto'
import type { Test } from 'tap'
import { entryInput, type MakeStore, openStore, TD } from './fixtures.js'
import { taskInput } from './tasks.js'

const sha = (text: string): string => createHash('sha256').update(text).digest('hex')

export function policyTests(t: Test, makeStore: MakeStore): void {
  t.test('policy versions are appended 1, 2, 3 and read back newest first', async (t) => {
    const ds = await openStore(t, makeStore)
    t.equal(await ds.getPolicyVersion(), undefined)
    t.same(await ds.listPolicyVersions(), [])
    const a = 'permit (principal, action, resource);'
    const v1 = await ds.addPolicyVersion({
      text: a,
      sha256: sha(a),
      adminCaller: 'uid=0 pid=1',
      policyIds: ['p1'],
    })
    const v2 = await ds.addPolicyVersion({ text: '', sha256: sha(''), adminCaller: '', policyIds: [] })
    t.same([v1.version, v2.version], [1, 2])
    t.same(await ds.getPolicyVersion(1), v1)
    t.same(await ds.getPolicyVersion(), v2)
    t.equal(await ds.getPolicyVersion(3), undefined)
    t.same(
      (await ds.listPolicyVersions()).map((p) => [p.version, p.text, p.adminCaller, p.policyIds]),
      [
        [2, '', '', []],
        [1, a, 'uid=0 pid=1', ['p1']],
      ],
    )
    t.ok(v1.createdAt instanceof Date)
    await t.rejects(
      ds.addPolicyVersion({ text: a, sha256: 'nothex', adminCaller: '', policyIds: [] }),
      TypeError,
    )
    await t.rejects(ds.getPolicyVersion(0), TypeError)
  })

  t.test('entries keep owner, purpose and risk; they default to empty', async (t) => {
    const ds = await openStore(t, makeStore)
    const plain = await ds.createEntry(entryInput())
    t.same([plain.owner, plain.purpose, plain.risk], ['', '', ''])
    const rated = await ds.createEntry(
      entryInput({
        spiffeId: `${TD}/payments`,
        owner: 'team-pay',
        purpose: 'settles invoices',
        risk: 'high',
      }),
    )
    t.same(await ds.getEntry(rated.id), rated)
    t.same([rated.owner, rated.purpose, rated.risk], ['team-pay', 'settles invoices', 'high'])
    const lowered = await ds.updateEntry(rated.id, { risk: 'low' })
    t.same([lowered.owner, lowered.risk], ['team-pay', 'low'])
    await t.rejects(ds.createEntry(entryInput({ spiffeId: `${TD}/x`, risk: 'extreme' as 'low' })), {
      code: 'ERR_ENTRY_INVALID',
    })
    await t.rejects(ds.updateEntry(rated.id, { owner: 'a\nb' }), { code: 'ERR_ENTRY_INVALID' })
    t.equal((await ds.getEntry(rated.id))?.risk, 'low')
  })

  t.test("a task ends 'drifted' with its reason", async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.createTask(taskInput())
    await ds.recordTaskEvent({ taskId: 'task-1', at: new Date(), event: 'begun', detail: '' })
    const ended = await ds.endTask('task-1', 'drifted', 'audience outside the task scope', new Date())
    t.same(
      [ended.state, ended.outcome, ended.endReason],
      ['ended', 'drifted', 'audience outside the task scope'],
    )
    t.equal((await ds.listTaskEvents('task-1')).length, 1)
  })
}
