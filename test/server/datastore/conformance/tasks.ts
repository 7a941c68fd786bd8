// Conformance: tasks (create, get, list filters, end once, credentials, events) and the task
// fields of registration entries.
import type { Test } from 'tap'
import type { TaskInput } from '../../../../server/datastore/datastore.js'
import { AGENT_A, after, entryInput, type MakeStore, openStore, TD } from './fixtures.js'

const BASE = new Date('2030-04-01T00:00:00.000Z')

export function taskInput(over: Partial<TaskInput> = {}): TaskInput {
  return {
    id: 'task-1',
    spiffeId: `${TD}/planner`,
    entryId: 'entry-1',
    agentId: AGENT_A,
    processKey: '4242:123456',
    subject: `${TD}/user/alice`,
    purpose: 'nightly report',
    scope: [`${TD}/tool-api`, 'https://search.example.org'],
    actChain: [`${TD}/planner`],
    parentTxn: '',
    createdAt: BASE,
    deadline: after(BASE, 300),
    ...over,
  }
}

export function taskTests(t: Test, makeStore: MakeStore): void {
  t.test('entries keep their task fields; they default to no tasks', async (t) => {
    const ds = await openStore(t, makeStore)
    const plain = await ds.createEntry(entryInput())
    t.same([plain.taskScopes, plain.maxTaskTtl, plain.revokeOnExit], [[], 0, false])
    t.same(await ds.getEntry(plain.id), plain)
    const tasked = await ds.createEntry(
      entryInput({
        spiffeId: `${TD}/tasks`,
        taskScopes: [`${TD}/a`, `${TD}/a`, `${TD}/b`],
        maxTaskTtl: 600,
        revokeOnExit: true,
      }),
    )
    t.same([tasked.taskScopes, tasked.maxTaskTtl, tasked.revokeOnExit], [[`${TD}/a`, `${TD}/b`], 600, true])
    t.same(await ds.getEntry(tasked.id), tasked)
    const updated = await ds.updateEntry(tasked.id, { maxTaskTtl: 60 })
    t.same([updated.taskScopes, updated.maxTaskTtl, updated.revokeOnExit], [[`${TD}/a`, `${TD}/b`], 60, true])
    const cleared = await ds.updateEntry(tasked.id, { taskScopes: [], revokeOnExit: false })
    t.same((await ds.getEntry(tasked.id))?.taskScopes, [])
    t.equal(cleared.revokeOnExit, false)
    await t.rejects(ds.createEntry(entryInput({ spiffeId: `${TD}/x`, maxTaskTtl: -1 })), {
      code: 'ERR_ENTRY_INVALID',
    })
    await t.rejects(ds.createEntry(entryInput({ spiffeId: `${TD}/y`, taskScopes: ['a b'] })), {
      code: 'ERR_ENTRY_INVALID',
    })
  })

  t.test('createTask, getTask, listTasks with filters, newest first', async (t) => {
    const ds = await openStore(t, makeStore)
    const first = await ds.createTask(taskInput())
    t.same(first, { ...taskInput(), state: 'active', outcome: '', endReason: '' })
    t.same(await ds.getTask('task-1'), first)
    t.equal(await ds.getTask('nope'), undefined)
    await t.rejects(ds.createTask(taskInput()), { code: 'ERR_INVALID_ARGUMENT' })
    await ds.createTask(
      taskInput({
        id: 'task-2',
        spiffeId: `${TD}/other`,
        createdAt: after(BASE, 1),
        deadline: after(BASE, 10),
      }),
    )
    t.same(
      (await ds.listTasks()).map((x) => x.id),
      ['task-2', 'task-1'],
    )
    t.same(
      (await ds.listTasks({ spiffeId: `${TD}/other` })).map((x) => x.id),
      ['task-2'],
    )
    t.same(
      (await ds.listTasks({ deadlineBefore: after(BASE, 10) })).map((x) => x.id),
      ['task-2'],
    )
    t.same(
      (await ds.listTasks({ limit: 1 })).map((x) => x.id),
      ['task-2'],
    )
    await ds.endTask('task-2', 'completed', '', after(BASE, 5))
    t.same(
      (await ds.listTasks({ state: 'active' })).map((x) => x.id),
      ['task-1'],
    )
    t.same(
      (await ds.listTasks({ state: 'ended' })).map((x) => x.id),
      ['task-2'],
    )
  })

  t.test('endTask ends once; unknown and ended tasks are refused', async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.createTask(taskInput())
    const ended = await ds.endTask('task-1', 'cancelled', 'operator said so', after(BASE, 7))
    t.match(ended, {
      state: 'ended',
      outcome: 'cancelled',
      endReason: 'operator said so',
      endedAt: after(BASE, 7),
    })
    await t.rejects(ds.endTask('task-1', 'completed', '', after(BASE, 8)), { code: 'ERR_TASK_ENDED' })
    t.equal((await ds.getTask('task-1'))?.outcome, 'cancelled', 'the first outcome stays')
    await t.rejects(ds.endTask('nope', 'completed', '', BASE), { code: 'ERR_NOT_FOUND' })
    await t.rejects(ds.endTask('task-1', 'bogus' as 'completed', '', BASE), TypeError)
  })

  t.test('credentials and events of a task', async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.createTask(taskInput())
    const txn = {
      taskId: 'task-1',
      kind: 'txn' as const,
      credential: 'task-1',
      audience: [],
      issuedAt: BASE,
      expiresAt: after(BASE, 300),
    }
    const jwt = {
      ...txn,
      kind: 'jwt' as const,
      credential: 'jti-1',
      audience: [`${TD}/tool-api`],
      issuedAt: after(BASE, 1),
    }
    await ds.recordTaskCredential(txn)
    await ds.recordTaskCredential(jwt)
    await ds.recordTaskCredential(jwt)
    t.same(await ds.listTaskCredentials('task-1'), [txn, jwt])
    t.same(await ds.listTaskCredentials('nope'), [])
    await t.rejects(ds.recordTaskCredential({ ...txn, taskId: 'nope' }), { code: 'ERR_NOT_FOUND' })
    await ds.recordTaskEvent({ taskId: 'task-1', at: BASE, event: 'begun', detail: '' })
    await ds.recordTaskEvent({ taskId: 'task-1', at: BASE, event: 'jwt_refused', detail: 'audience x' })
    t.same(
      (await ds.listTaskEvents('task-1')).map((e) => e.event),
      ['begun', 'jwt_refused'],
    )
    for (let i = 0; i < 1000; i++) {
      await ds.recordTaskEvent({ taskId: 'task-1', at: BASE, event: 'jwt_refused', detail: `${i}` })
    }
    t.equal((await ds.listTaskEvents('task-1')).length, 1000, 'refusals stop being kept at 1000')
    await ds.recordTaskEvent({ taskId: 'task-1', at: BASE, event: 'ended', detail: 'completed' })
    t.equal((await ds.listTaskEvents('task-1')).at(-1)?.event, 'ended', 'the end is always kept')
    await t.rejects(ds.recordTaskEvent({ taskId: 'nope', at: BASE, event: 'x', detail: '' }), {
      code: 'ERR_NOT_FOUND',
    })
  })
}
