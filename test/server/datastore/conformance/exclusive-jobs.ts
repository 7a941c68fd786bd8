// Conformance: runExclusive across two handles on one store (two servers on one database; on
// SQLite, handles of one process): a running job makes the other's call resolve { ran: false },
// the lock is released after the job ends or throws, other names do not wait.
import type { Test } from 'tap'
import type { DataStore } from '../../../../server/datastore/datastore.js'
import type { MakeLocation, OpenHandle } from './shared-store.js'

async function handle(t: Test, open: OpenHandle): Promise<DataStore> {
  const ds = await open()
  t.teardown(() => ds.close())
  return ds
}

/** A job that runs until `finish` is called. */
function heldJob<T>(value: T): { job: () => Promise<T>; started: Promise<void>; finish: () => void } {
  let finish = () => {}
  let began = () => {}
  const started = new Promise<void>((resolve) => {
    began = resolve
  })
  const done = new Promise<void>((resolve) => {
    finish = resolve
  })
  return {
    job: async () => {
      began()
      await done
      return value
    },
    started,
    finish,
  }
}

export function exclusiveJobTests(t: Test, makeLocation: MakeLocation): void {
  t.test('runExclusive: while one handle runs a job, the other is told it did not run', async (t) => {
    const open = await makeLocation()
    const one = await handle(t, open)
    const two = await handle(t, open)
    const held = heldJob('rotated')
    const running = one.runExclusive('ca-rotation', held.job)
    await held.started
    let ran = false
    const job = async () => {
      ran = true
      return 1
    }
    t.same(await two.runExclusive('ca-rotation', job), { ran: false }, 'the other handle: not run')
    t.same(await one.runExclusive('ca-rotation', job), { ran: false }, 'the same handle again: not run')
    t.notOk(ran, 'neither job body ran')
    t.same(
      await two.runExclusive('purge', async () => 'purged'),
      { ran: true, value: 'purged' },
      'another name runs',
    )
    held.finish()
    t.same(await running, { ran: true, value: 'rotated' })
    t.same(await two.runExclusive('ca-rotation', job), { ran: true, value: 1 }, 'free again once it ended')
    t.ok(ran)
  })

  t.test('runExclusive: a job that throws rejects with its error and releases the lock', async (t) => {
    const open = await makeLocation()
    const one = await handle(t, open)
    const two = await handle(t, open)
    await t.rejects(
      one.runExclusive('purge', async () => {
        throw new Error('purge failed')
      }),
      { message: 'purge failed' },
    )
    t.same(
      await two.runExclusive('purge', async () => 'ok'),
      { ran: true, value: 'ok' },
      'the lock was released',
    )
    t.same(await one.runExclusive('purge', async () => 'again'), { ran: true, value: 'again' })
    await t.rejects(
      one.runExclusive('', async () => 0),
      TypeError,
      'a name is required',
    )
    await t.rejects(one.runExclusive('x', 'not a job' as unknown as () => Promise<number>), TypeError)
    await one.close()
    await t.rejects(
      one.runExclusive('purge', async () => 0),
      { code: 'ERR_DATASTORE' },
      'closed',
    )
  })
}
