// The audit trail with the real sigil-server and sigil-agent processes (issue 14 item 7): SVIDs
// issued through the agent are recorded and explained (entry, agent, selectors), admin calls carry
// the caller's uid/pid/exe, `audit verify` passes — and after a separate process edits, deletes
// or inserts a record in the database file, it exits 1 naming the first broken link.
import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import { credentials, Metadata } from '@grpc/grpc-js'
import { decodeJwt } from 'jose'
import t from 'tap'
import { normalizeSerial } from '../../certs/x509svid/crl.js'
import { loadWorkloadApi } from '../../proto/loader.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { tamperAuditDatabase } from '../helpers/audit-tamper.js'
import { startTaskWorkload } from '../helpers/task-workload.js'

const TD = 'spiffe://example.org'
const ID = `${TD}/e2e/audited`
const uid = process.getuid?.() ?? 0
const node = await startSigilNode(t)
const TOOL = `${TD}/e2e/tool`
await node.createEntry(ID, [`unix:uid:${uid}`], ['--task-scope', TOOL, '--max-task-ttl', '2m'])
const dbPath = join(node.server.dataDir, 'datastore.sqlite3')

const api = loadWorkloadApi()
const client = new api.Client(`unix:${node.agent.socketPath}`, credentials.createInsecure())
t.teardown(() => client.close())
const md = () => {
  const m = new Metadata()
  m.set('workload.spiffe.io', 'true')
  return m
}

function fetchX509Serial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const call = client.FetchX509SVID({}, md())
    call.on('data', (res: { svids: { x509_svid: Buffer }[] }) => {
      call.cancel()
      const der = res.svids[0]!.x509_svid
      // the leaf is the first certificate of the concatenated DER chain
      const len = der[1]! & 0x80 ? der.readUIntBE(2, der[1]! & 0x7f) + 2 + (der[1]! & 0x7f) : der[1]! + 2
      // the canonical spelling the trail stores (even-length lowercase hex: a leading 0 nibble stays)
      resolve(normalizeSerial(new X509Certificate(der.subarray(0, len)).serialNumber))
    })
    call.on('error', (e: { code?: number }) => (e.code === 1 ? undefined : reject(e)))
  })
}

function fetchJwt(audience: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.FetchJWTSVID({ audience: [audience] }, md(), (err, res) =>
      err || !res?.svids[0] ? reject(err ?? new Error('no JWT-SVID')) : resolve(res.svids[0].svid),
    ),
  )
}

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON documents, checked field by field by the tests
async function cliJson(...args: string[]): Promise<{ code: number | null; json: any; stderr: string }> {
  const r = await node.server.cli(...args, '--output', 'json')
  return { code: r.code, json: r.stdout ? JSON.parse(r.stdout) : undefined, stderr: r.stderr }
}

const serial = await fetchX509Serial()
const jti = decodeJwt(await fetchJwt('audit-db')).jti as string

t.test('issuance through the agent is in the trail; admin calls carry the caller', async (t) => {
  const listed = await cliJson('audit', 'list', '--spiffe-id', ID)
  t.equal(listed.code, 0, listed.stderr)
  const kinds = listed.json.records.map((r: { kind: string }) => r.kind)
  t.ok(kinds.includes('x509_svid_issued'), 'the X509-SVID')
  t.ok(kinds.includes('jwt_svid_issued'), 'the JWT-SVID')
  const x509 = listed.json.records.find((r: { serial_or_jti: string }) => r.serial_or_jti === serial)
  t.ok(x509, `the record of serial ${serial}`)
  t.same(x509.actor, { agent_id: node.agentId })
  t.same(x509.details.entry.selectors, [`unix:uid:${uid}`])
  t.same(x509.details.agent.attestation_type, 'join_token')

  const created = (await cliJson('audit', 'list', '--decision', 'allow')).json.records.find(
    (r: { details: { method?: string } }) => r.details.method === 'CreateEntry',
  )
  t.equal(created.kind, 'admin_operation')
  t.equal(created.spiffe_id, ID)
  t.equal(created.actor.uid, uid, 'the uid the kernel reported for the CLI process')
  t.ok(created.actor.pid > 0)
  t.equal(created.actor.exe, process.execPath, "the CLI's executable (node)")
  const denied = await cliJson('entry', 'delete', '--entry-id', 'no-such-entry')
  t.equal(denied.code, 2)
  const refusals = (await cliJson('audit', 'list', '--decision', 'deny')).json.records
  t.match(
    refusals.find((r: { details: { method?: string } }) => r.details.method === 'DeleteEntry'),
    { kind: 'admin_operation', details: { error: { code: 'NOT_FOUND' } }, actor: { uid } },
    'a failed admin call is recorded as deny, with its status',
  )
  t.notMatch(JSON.stringify((await cliJson('audit', 'list')).json), /eyJ/, 'no token in the trail')
})

t.test('bad input to the audit verbs: exit 2 with one line, nothing sent', async (t) => {
  for (const args of [
    ['audit', 'list', '--decision', 'maybe'],
    ['audit', 'list', '--limit', '0'],
    ['audit', 'list', '--since', 'yesterday'],
    ['audit', 'list', '--spiffe-id', 'not-an-id'],
    ['audit', 'verify', '--anchor', '12:ABC'],
    ['svid', 'explain', '--serial', '0a', '--jti', 'j'],
  ]) {
    const r = await node.server.cli(...args)
    t.equal(r.code, 2, args.join(' '))
    t.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line`)
  }
})

t.test('svid explain names the entry, the agent, its attestation and the matched selectors', async (t) => {
  const x = await cliJson('svid', 'explain', '--serial', serial)
  t.equal(x.code, 0, x.stderr)
  t.equal(x.json.svid.spiffe_id, ID)
  t.match(x.json.entry, { parent_id: node.agentId, selectors: [`unix:uid:${uid}`] })
  t.match(x.json.agent, { spiffe_id: node.agentId, attestation_type: 'join_token' })
  t.same(x.json.matched_selectors, [`unix:uid:${uid}`])
  t.same(x.json.requested_by, { agent_id: node.agentId })
  const pretty = await node.server.cli('svid', 'explain', '--serial', serial.toUpperCase())
  t.equal(pretty.code, 0, pretty.stderr)
  t.match(pretty.stdout, /entry:\n {2}id: /)
  t.match(pretty.stdout, new RegExp(`agent:\\n {2}spiffe_id: ${node.agentId}`))
  t.match(pretty.stdout, `unix:uid:${uid}`)
  const j = await cliJson('svid', 'explain', '--jti', jti)
  t.equal(j.code, 0, j.stderr)
  t.same(j.json.svid.audience, ['audit-db'])
  t.equal(
    (await node.server.cli('svid', 'explain', '--jti', 'nobody-issued-this')).code,
    2,
    'unknown: exit 2',
  )
  t.equal((await node.server.cli('svid', 'explain')).code, 2, 'neither --serial nor --jti: exit 2')
})

t.test(
  'a task JWT-SVID explained: its task, the delegation chain from alice, the task records',
  async (t) => {
    const alice = `${TD}/user/alice`
    const minted = await node.server.cli('jwt', 'mint', '--spiffe-id', alice, '--audience', ID)
    t.equal(minted.code, 0, minted.stderr)
    const w = await startTaskWorkload(t, { dir: node.dir, socketPath: node.agent.socketPath })
    const begun = await w.request('begin', {
      options: { purpose: 'audit e2e', scope: [TOOL], ttl: 60, onBehalfOf: minted.stdout.trim() },
    })
    t.ok(begun.ok, String(begun.message))
    const taskId = String(begun.taskId)
    const jwt = await w.request('jwt', { taskId, audience: TOOL })
    t.ok(jwt.ok, String(jwt.message))
    const refused = await w.request('jwt', { taskId, audience: `${TD}/e2e/elsewhere` })
    t.equal(refused.ok, false, 'an audience outside the scope is refused')
    // the out-of-scope request drifted the task (issue 14 item 6); the late end is refused by the server
    await w.request('end', { taskId, outcome: 'completed' })

    const x = await cliJson('svid', 'explain', '--jti', decodeJwt(String(jwt.token)).jti as string)
    t.equal(x.code, 0, x.stderr)
    t.match(x.json.task, {
      id: taskId,
      purpose: 'audit e2e',
      scope: [TOOL],
      state: 'ended',
      outcome: 'drifted',
    })
    t.same(x.json.delegation_chain, [alice, ID], 'the principal, then the workload that acted for it')
    const kinds = x.json.records.map((r: { kind: string }) => r.kind)
    for (const k of ['task_begun', 'task_jwt_issued', 'task_jwt_refused', 'task_ended'])
      t.ok(kinds.includes(k), k)
    const trail = await cliJson('audit', 'list', '--task-id', taskId, '--decision', 'deny')
    t.same(
      trail.json.records.map((r: { kind: string }) => r.kind),
      ['task_jwt_refused', 'task_end_refused'],
      'audit list --task-id --decision deny: the out-of-scope request, then the late end',
    )
    t.match(JSON.stringify(trail.json), /outside the task's scope/)
  },
)

t.test('audit verify passes, then names each edit a separate process makes to the file', async (t) => {
  const ok = await node.server.cli('audit', 'verify')
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /audit trail intact: \d+ records verified\nhead: \d+:[0-9a-f]{64}/)
  const count = Number(/intact: (\d+)/.exec(ok.stdout)![1])
  t.ok(count >= 8, `${count} records so far`)

  // each edit is earlier in the chain than the last, so each becomes the first broken link
  const steps = [
    { tamper: { action: 'insert', seq: count - 1 } as const, seq: count, says: /does not follow record/ },
    { tamper: { action: 'delete', seq: 5 } as const, seq: 5, says: /record 5 is missing \(deleted\)/ },
    { tamper: { action: 'change', seq: 3 } as const, seq: 3, says: /record 3 was changed/ },
  ]
  for (const step of steps) {
    await tamperAuditDatabase(dbPath, step.tamper)
    const broken = await node.server.cli('audit', 'verify')
    t.equal(broken.code, 1, `${step.tamper.action}: exit 1`)
    t.match(
      broken.stdout,
      new RegExp(`^audit trail BROKEN at record ${step.seq}: `),
      `${step.tamper.action} named`,
    )
    t.match(broken.stdout, step.says)
  }
  const json = await cliJson('audit', 'verify')
  t.equal(json.code, 1)
  t.equal(json.json.ok, false)
  t.same(
    json.json.problems.slice(0, 3).map((p: { seq: number }) => p.seq),
    [3, 5, count],
    'every edit is listed, first broken link first',
  )
  // the server keeps appending on the chain it has
  t.equal((await node.server.cli('entry', 'count')).code, 0)
})
