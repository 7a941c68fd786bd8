// Tampering with the audit trail (issue 14 item 7): an intruder with write access to the server's
// database file edits records by hand (the sqlite3 shell, when installed, and a separate node
// process), deletes one, inserts a forged one, cuts off the newest ones or rewrites the chain
// with recomputed hashes; and secrets (join tokens, JWT-SVIDs) never reach the trail or its log.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { type AuditTamper, tamperAuditDatabase } from '../helpers/audit-tamper.js'
import { attestWithJoinToken, startAttackServer } from './harness.js'

const { server, admin, rootPem } = await startAttackServer(t)
const dbPath = join(server.dataDir, 'datastore.sqlite3')
const SQLITE3 = ['/usr/bin/sqlite3', '/usr/local/bin/sqlite3'].find((p) => existsSync(p))

async function verify(...args: string[]): Promise<{ code: number | null; out: string; anchor: string }> {
  const r = await server.cli('audit', 'verify', ...args)
  const anchor = /head: (\d+:[0-9a-f]{64})/.exec(r.stdout)?.[1] ?? ''
  return { code: r.code, out: r.stdout + r.stderr, anchor }
}

async function head(): Promise<number> {
  const v = await verify()
  return Number(v.anchor.split(':')[0])
}

// Attack: secrets handed out by admin calls are copied into the trail or its log lines.
t.test('join tokens and minted JWT-SVIDs never reach the audit trail or the log', async (t) => {
  const token = (
    await server.cli('token', 'generate', '--spiffe-id', 'spiffe://example.org/node/a')
  ).stdout.trim()
  const jwt = (
    await server.cli('jwt', 'mint', '--spiffe-id', 'spiffe://example.org/w', '--audience', 'db')
  ).stdout.trim()
  t.match(token, /\S{16,}/)
  t.match(jwt, /^eyJ/)
  const trail = (await server.cli('audit', 'list', '--output', 'json')).stdout
  t.notOk(trail.includes(token), 'no join token in the trail')
  t.notOk(trail.includes(jwt.split('.')[2]!), 'no JWT signature in the trail')
  const logs = JSON.stringify(server.logs)
  t.notOk(logs.includes(token), 'no join token in the log')
  t.notOk(logs.includes(jwt.split('.')[2]!), 'no JWT signature in the log')
  t.match(trail, /"kind": "jwt_svid_issued"/, 'the mint itself is recorded')
})

// Attack: a replayed join token; the refusal is recorded, the token is not.
t.test('a refused attestation is in the trail without its join token', async (t) => {
  const { token } = await admin.call('CreateJoinToken', {
    spiffe_id: 'spiffe://example.org/node/r',
    ttl: 600,
  })
  await attestWithJoinToken(server.agentApiAddress, rootPem, token)
  await t.rejects(attestWithJoinToken(server.agentApiAddress, rootPem, token), 'the replay is refused')
  const trail = (await server.cli('audit', 'list', '--decision', 'deny', '--output', 'json')).stdout
  const refused = (
    JSON.parse(trail) as {
      records: { kind: string; details: { method?: string; error?: { code: string } } }[]
    }
  ).records.filter((r) => r.kind === 'signing_refused' && r.details.method === 'AttestAgent')
  t.equal(refused.length, 1)
  t.equal(refused[0]?.details.error?.code, 'ERR_TOKEN_USED')
  t.notOk(trail.includes(token), 'no join token in the trail')
  t.notOk(JSON.stringify(server.logs).includes(token), 'no join token in the log')
  const issued = (
    await server.cli('audit', 'list', '--spiffe-id', 'spiffe://example.org/node/r', '--output', 'json')
  ).stdout
  t.match(issued, /"attestation_type": "join_token"/, "the first attestation's agent SVID is recorded")
})

// Attack: cut off the newest records, or rewrite a record and recompute every hash after it.
t.test('a cut tail or a re-chained trail passes alone and fails against an anchor', async (t) => {
  for (let i = 0; i < 4; i++) await server.cli('entry', 'count')
  const before = await verify()
  t.equal(before.code, 0, before.out)
  const n = await head()
  await tamperAuditDatabase(dbPath, { action: 'truncate', after: n - 3 })
  t.equal((await verify()).code, 0, 'a cut tail leaves a valid chain')
  const cut = await verify('--anchor', before.anchor)
  t.equal(cut.code, 1, 'the anchor catches the cut')
  t.match(cut.out, /anchor/)

  const anchor = (await verify()).anchor
  await tamperAuditDatabase(dbPath, { action: 'rechain', seq: 3 })
  t.equal((await verify()).code, 0, 'a full re-chain leaves a valid chain')
  const rewritten = await verify('--anchor', anchor)
  t.equal(rewritten.code, 1, 'the anchor catches the rewrite')
  t.match(rewritten.out, /no longer has the anchored hash/)
  t.equal((await verify('--anchor', 'garbage')).code, 2, 'a malformed anchor: exit 2')
})

// Attack: edit, delete or insert records by hand; each must be named as the first broken link.
t.test('a changed, deleted or inserted record is the first broken link, exit 1', async (t) => {
  for (let i = 0; i < 6; i++) await server.cli('entry', 'count')
  t.equal((await verify()).code, 0)
  const n = await head()
  const steps: { how: string; tamper: AuditTamper | 'sqlite3'; seq: number; says: RegExp }[] = [
    {
      how: 'insert (forged, renumbered)',
      tamper: { action: 'insert', seq: n - 1 },
      seq: n,
      says: /does not follow/,
    },
    { how: 'delete', tamper: { action: 'delete', seq: n - 4 }, seq: n - 4, says: /missing \(deleted\)/ },
    {
      how: SQLITE3 ? 'edit with the sqlite3 shell' : 'edit (node)',
      tamper: SQLITE3 ? 'sqlite3' : { action: 'change', seq: 2 },
      seq: 2,
      says: /record 2 was changed/,
    },
  ]
  for (const step of steps) {
    if (step.tamper === 'sqlite3') {
      await new Promise<void>((resolve, reject) =>
        execFile(
          SQLITE3!,
          [
            dbPath,
            "DROP TRIGGER IF EXISTS audit_records_no_update; UPDATE audit_records SET decision = 'deny' WHERE seq = 2;",
          ],
          (err) => (err ? reject(err) : resolve()),
        ),
      )
    } else await tamperAuditDatabase(dbPath, step.tamper)
    const v = await verify()
    t.equal(v.code, 1, `${step.how}: exit 1`)
    t.match(
      v.out,
      new RegExp(`^audit trail BROKEN at record ${step.seq}: `),
      `${step.how}: record ${step.seq} named`,
    )
    t.match(v.out, step.says)
  }
  t.equal((await server.cli('healthcheck')).code, 0, 'the server keeps serving')
})
