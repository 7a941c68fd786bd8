// Several servers on one SQLite file (one machine): two processes racing on the same join
// tokens, revocation numbering and entries — the file's write lock (IMMEDIATE transactions,
// busy timeout) keeps single use, unique gap-free sequence numbers and entry uniqueness.
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { openDataStore } from '../../../../server/datastore/open-data-store.js'
import { after, tokenHash } from '../conformance/fixtures.js'

interface WorkerResult {
  tokens: string[]
  revocations: number[]
  entries: string[]
}

/** Enough work that the two processes overlap despite their start-up skew (they walk in opposite directions). */
const TOKENS = 300
const ENTRIES = 100
const WORKER = fileURLToPath(new URL('./race-worker.js', import.meta.url))

function lines(child: ChildProcess): AsyncGenerator<string> {
  let buffer = ''
  const queue: string[] = []
  let wake: (() => void) | undefined
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    let at = buffer.indexOf('\n')
    while (at >= 0) {
      queue.push(buffer.slice(0, at))
      buffer = buffer.slice(at + 1)
      at = buffer.indexOf('\n')
    }
    wake?.()
  })
  let ended = false
  child.on('close', () => {
    ended = true
    wake?.()
  })
  return (async function* () {
    for (;;) {
      if (queue.length > 0) yield queue.shift()!
      else if (ended) return
      else await new Promise<void>((resolve) => (wake = resolve))
    }
  })()
}

t.test(
  'two processes on one SQLite file: one use per token, unique gap-free revocations, one entry each',
  async (t) => {
    const path = `${t.testdir()}/datastore.sqlite3`
    const ds = await openDataStore({ kind: 'sqlite', path })
    t.teardown(() => ds.close())
    const now = new Date()
    const hashes = Array.from({ length: TOKENS }, () => tokenHash())
    for (const h of hashes)
      await ds.createJoinToken({ tokenHash: h, spiffeId: '', expiresAt: after(now, 600) })

    const workers = ['p1', 'p2'].map((name) => {
      const child = spawn(process.execPath, [WORKER, path, name, JSON.stringify(hashes), String(ENTRIES)], {
        stdio: ['pipe', 'pipe', 'inherit'],
      })
      t.teardown(() => {
        if (child.exitCode === null) child.kill('SIGKILL')
      })
      return { child, out: lines(child) }
    })
    for (const w of workers) t.equal((await w.out.next()).value, 'ready')
    for (const w of workers) w.child.stdin!.end('go\n')
    const results: WorkerResult[] = []
    for (const w of workers) results.push(JSON.parse((await w.out.next()).value as string) as WorkerResult)

    for (let i = 0; i < hashes.length; i++) {
      const outcomes = results.map((r) => r.tokens[i]!).sort()
      t.same(outcomes, ['ERR_TOKEN_USED', 'ok'], `token ${i}: one process won`)
    }
    t.comment(
      `tokens won: ${results.map((r, i) => `p${i + 1} ${r.tokens.filter((o) => o === 'ok').length}`).join(', ')} ` +
        '(how the two interleaved; not asserted)',
    )
    const sequences = results.flatMap((r) => r.revocations).sort((a, b) => a - b)
    t.same(
      sequences,
      Array.from({ length: 4 * TOKENS }, (_, i) => i + 1),
      `revocation sequence numbers 1..${4 * TOKENS}, unique and gap-free`,
    )
    t.same(
      (await ds.listRevocations()).map((r) => r.sequence),
      sequences,
    )
    for (let i = 0; i < ENTRIES; i++) {
      t.same(results.map((r) => r.entries[i]!).sort(), ['ERR_ENTRY_EXISTS', 'ok'], `entry ${i}: one created`)
    }
    t.equal(await ds.countEntries(), ENTRIES)
    await ds.integrityCheck()
  },
)
