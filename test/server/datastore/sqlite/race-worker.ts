// One of two processes racing on one SQLite file (multi-process.test.ts): opens the store, says
// "ready", waits for "go" on stdin, then consumes every given join token, adds revocations and
// creates the shared entries as fast as it can, and prints each outcome as one JSON line. The
// process named "p2" walks the tokens and entries backwards, so the two meet and contend midway.
import { openDataStore } from '../../../../server/datastore/open-data-store.js'
import { entryInput, TD } from '../conformance/fixtures.js'

const [path, name, tokensJson, entryCount] = process.argv.slice(2) as [string, string, string, string]
const tokens = JSON.parse(tokensJson) as string[]
const ds = await openDataStore({ kind: 'sqlite', path })
const outcome = async (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? String(e),
  )

process.stdout.write('ready\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
const now = new Date()
const order = (n: number) => {
  const indexes = Array.from({ length: n }, (_, i) => i)
  return name === 'p2' ? indexes.reverse() : indexes
}
const result = { tokens: [] as string[], revocations: [] as number[], entries: [] as string[] }
for (const i of order(tokens.length)) {
  result.tokens[i] = await outcome(ds.consumeJoinToken(tokens[i]!, now))
  const added = await ds.addRevocations(
    [0, 1].map((j) => ({
      kind: 'jwt_jti' as const,
      value: `${name}-${i}-${j}`,
      reason: '',
      expiresAt: new Date(now.getTime() + 60_000),
    })),
    now,
  )
  result.revocations.push(...added.map((r) => r.sequence))
}
for (const i of order(Number(entryCount))) {
  result.entries[i] = await outcome(ds.createEntry(entryInput({ spiffeId: `${TD}/raced-${i}` })))
}
await ds.close()
process.stdout.write(`${JSON.stringify(result)}\n`)
