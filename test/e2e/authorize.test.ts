// Authorize end to end (issue 14 items 4 and 5) with the real sigil-server and sigil-agent: a
// tool server (node:https in this process, itself an attested workload) asks the agent through
// the SDK's withAuthorization; the caller presents a JWT-SVID, a Txn-Token or its X509-SVID on
// TLS. Policies from --policy-file. Approvals: a held call is released by `approval approve`,
// refused by `approval deny` and by the --approval-timeout (a second agent with a 2 s timeout,
// so that a loaded machine cannot make the operator's CLI miss the first agent's 60 s one).
import { join } from 'node:path'
import t from 'tap'
import { startAgentProcess, startSigilNode } from '../helpers/agent-process.js'
import {
  AUTHZ_POLICY,
  callTool,
  startAuthzToolServer,
  type ToolAnswer,
  writePolicyFile,
} from '../helpers/authz-tool.js'
import { startTaskWorkload } from '../helpers/task-workload.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'
const WORKER = `${TD}/worker`
const TOOL = `${TD}/tool`
const OTHER = `${TD}/other`
const uid = process.getuid?.() ?? 0

const policyFile = writePolicyFile(t, AUTHZ_POLICY)

const node = await startSigilNode(t, {
  agentArgs: ['--policy-file', policyFile, '--approval-timeout', '60s', '--jwt-leeway', '0s'],
})
await node.createEntry(TOOL, [`unix:uid:${uid}`])
await node.createEntry(WORKER, [`unix:uid:${uid}`], ['--task-scope', 'search', '--task-scope', 'reports'])
const server = node.server

async function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return server.cli(...args)
}
async function jwtFor(spiffeId: string, audience = TOOL, ttl = '5m'): Promise<string> {
  const r = await cli('jwt', 'mint', '--spiffe-id', spiffeId, '--audience', audience, '--ttl', ttl)
  if (r.code !== 0) throw new Error(`jwt mint: ${r.stderr}`)
  return r.stdout.trim()
}
async function x509For(
  spiffeId: string,
  dns?: string,
): Promise<{ cert: string; key: string; serial: string }> {
  const args = ['x509', 'mint', '--spiffe-id', spiffeId, '--output', 'json']
  if (dns) args.push('--dns-name', dns)
  const r = await cli(...args)
  if (r.code !== 0) throw new Error(`x509 mint: ${r.stderr}`)
  const j = JSON.parse(r.stdout) as { svid_pem: string; key_pem: string; serial: string }
  return { cert: j.svid_pem, key: j.key_pem, serial: j.serial }
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

const toolCert = await x509For(TOOL, 'localhost')
const tool = await startAuthzToolServer({
  socketPath: node.agent.socketPath,
  cert: toolCert.cert,
  key: toolCert.key,
})
t.teardown(() => tool.close())

// the second agent (node2, --approval-timeout 2s) and its tool server, for the timeout
const NODE2 = `${TD}/node2`
for (const id of [TOOL, WORKER]) {
  const r = await cli(
    'entry',
    'create',
    '--spiffe-id',
    id,
    '--parent-id',
    NODE2,
    '--selector',
    `unix:uid:${uid}`,
  )
  if (r.code !== 0) throw new Error(`entry create: ${r.stderr}`)
}
const agent2 = await startAgentProcess({
  serverAddress: server.agentApiAddress,
  dataDir: join(node.dir, 'a2'),
  socketPath: join(node.dir, 'api2', 'agent.sock'),
  joinToken: (await cli('token', 'generate', '--spiffe-id', NODE2)).stdout.trim(),
  trustBundle: node.bundlePath,
  extraArgs: ['--policy-file', policyFile, '--approval-timeout', '2s'],
})
t.teardown(() => agent2.stop())
const shortTool = await startAuthzToolServer({
  socketPath: agent2.socketPath,
  cert: toolCert.cert,
  key: toolCert.key,
})
t.teardown(() => shortTool.close())

t.test('JWT-SVID: allowed and denied with the deciding policy ids', async (t) => {
  const token = await jwtFor(WORKER)
  const ok = await callTool(tool.port, 'search', { headers: bearer(token) })
  t.equal(ok.status, 200, JSON.stringify(ok.body))
  t.same(ok.body.policy_ids, ['workers-call-tools'])
  t.equal(ok.body.spiffe_id, WORKER)
  t.match(ok.body.reasons?.[0], /allowed by policy "workers-call-tools"/)

  const forbidden = await callTool(tool.port, 'delete', { headers: bearer(token) })
  t.equal(forbidden.status, 403)
  t.same(forbidden.body.policy_ids, ['no-delete'], 'the forbid decides')
  t.match(forbidden.body.reasons?.[0], /denied by policy "no-delete"/)

  const other = await callTool(tool.port, 'search', { headers: bearer(await jwtFor(OTHER)) })
  t.equal(other.status, 403)
  t.same(other.body.policy_ids, [], 'default deny: no permit matched')
  t.match(other.body.reasons?.[0], /no policy permits/)
})

t.test('JWT-SVID for another audience, expired or revoked → deny with the reason', async (t) => {
  const wrongAud = await callTool(tool.port, 'search', {
    headers: bearer(await jwtFor(WORKER, `${TD}/elsewhere`)),
  })
  t.equal(wrongAud.status, 403)
  t.match(wrongAud.body.reasons?.[0], /JWT-SVID rejected \(ERR_JWT_AUDIENCE_MISMATCH\)/)

  const shortLived = await jwtFor(WORKER, TOOL, '1s')
  await waitUntil(
    'the 1 s JWT-SVID is refused as expired (agent --jwt-leeway 0s)',
    async () => {
      const r = await callTool(tool.port, 'search', { headers: bearer(shortLived) })
      return r.status === 403 && /ERR_JWT_EXPIRED/.test(String(r.body.reasons))
    },
    { timeoutMs: 10_000, intervalMs: 200 },
  )

  const token = await jwtFor(WORKER)
  t.equal((await callTool(tool.port, 'search', { headers: bearer(token) })).status, 200)
  const jti = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).jti as string
  const revoked = await cli('svid', 'revoke', '--jti', jti, '--reason', 'test')
  t.equal(revoked.code, 0, revoked.stderr)
  let last: ToolAnswer | undefined
  await waitUntil(
    'the revoked JWT-SVID is denied',
    async () => {
      last = await callTool(tool.port, 'search', { headers: bearer(token) })
      return last.status === 403
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  )
  t.match(last?.body.reasons?.[0], /has been revoked/)
})

t.test('X509-SVID on the TLS connection: allowed, forbidden, revoked', async (t) => {
  const svid = await x509For(WORKER)
  const ok = await callTool(tool.port, 'reports', { cert: svid.cert, key: svid.key })
  t.equal(ok.status, 200, JSON.stringify(ok.body))
  t.same(ok.body.policy_ids, ['workers-call-tools'])
  t.equal(ok.body.spiffe_id, WORKER)
  const del = await callTool(tool.port, 'delete', { cert: svid.cert, key: svid.key })
  t.same([del.status, del.body.policy_ids], [403, ['no-delete']])
  const revoked = await cli('svid', 'revoke', '--serial', svid.serial)
  t.equal(revoked.code, 0, revoked.stderr)
  let last: ToolAnswer | undefined
  await waitUntil(
    'the revoked X509-SVID is denied',
    async () => {
      last = await callTool(tool.port, 'reports', { cert: svid.cert, key: svid.key })
      return last.status === 403
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  )
  t.match(last?.body.reasons?.[0], /X509-SVID rejected: serial [0-9a-f]+ has been revoked/)
  const none = await callTool(tool.port, 'reports')
  t.equal(none.status, 400, 'no credential at all: 400')
})

t.test('Txn-Token: the task scope decides; an ended task is denied', async (t) => {
  const w = await startTaskWorkload(t, { dir: node.dir, socketPath: node.agent.socketPath })
  const begun = await w.request('begin', {
    options: { purpose: 'authz', scope: ['search'], ttl: 60, spiffeId: WORKER },
  })
  t.ok(begun.ok, String(begun.message))
  const txn = { 'txn-token': String(begun.txnToken) }
  const inScope = await callTool(tool.port, 'search', { headers: txn })
  t.equal(inScope.status, 200, JSON.stringify(inScope.body))
  const outOfScope = await callTool(tool.port, 'reports', { headers: txn })
  t.equal(outOfScope.status, 403)
  t.same(outOfScope.body.policy_ids, ['task-scope'], 'reports is outside the task scope')
  const ended = await w.request('end', { taskId: String(begun.taskId), outcome: 'completed' })
  t.ok(ended.ok, String(ended.message))
  let last: ToolAnswer | undefined
  await waitUntil(
    'the ended task is denied',
    async () => {
      last = await callTool(tool.port, 'search', { headers: txn })
      return last.status === 403
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  )
  t.match(last?.body.reasons?.[0], /Txn-Token rejected: task .* has been revoked/)
})

async function pendingFor(resource: string): Promise<{ id: string; status: string }> {
  let found: { id: string; status: string } | undefined
  await waitUntil(
    `a pending approval for ${resource}`,
    async () => {
      const r = await cli('approval', 'list', '--status', 'pending', '--output', 'json')
      const list = (JSON.parse(r.stdout) as { approvals: { id: string; status: string; resource: string }[] })
        .approvals
      found = list.find((a) => a.resource === `Sigil::Tool::"${resource}"`)
      return found !== undefined
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  )
  return found!
}

t.test('@approval: held until approve; --for covers identical calls; deny and timeout refuse', async (t) => {
  const token = await jwtFor(WORKER)
  const held = callTool(tool.port, 'payments', { headers: bearer(token) })
  const pending = await pendingFor('payments')
  const approve = await cli('approval', 'approve', '--id', pending.id, '--for', '10m')
  t.equal(approve.code, 0, approve.stderr)
  t.match(approve.stdout, /Approved[\s\S]*Status\s+: approved/)
  const released = await held
  t.equal(released.status, 200, JSON.stringify(released.body))
  t.same(released.body.policy_ids, ['money-needs-approval'])
  t.match(released.body.reasons?.[1], new RegExp(`approved by .* \\(approval ${pending.id}\\)`))

  const again = await callTool(tool.port, 'payments', { headers: bearer(await jwtFor(WORKER)) })
  t.equal(again.status, 200, 'an identical call within --for is allowed without a new hold')
  const all = JSON.parse((await cli('approval', 'list', '--output', 'json')).stdout).approvals as {
    resource: string
  }[]
  t.equal(all.filter((a) => a.resource === 'Sigil::Tool::"payments"').length, 1, 'no new approval was asked')

  const twice = await cli('approval', 'approve', '--id', pending.id)
  t.equal(twice.code, 2, 'approving a decided approval fails FAILED_PRECONDITION (exit 2)')
  t.match(twice.stderr, /already approved/)

  const heldWire = callTool(tool.port, 'wire', { headers: bearer(token) })
  const wire = await pendingFor('wire')
  const deny = await cli('approval', 'deny', '--id', wire.id, '--reason', 'not on a Friday')
  t.equal(deny.code, 0, deny.stderr)
  const refused = await heldWire
  t.equal(refused.status, 403)
  t.match(String(refused.body.reasons), /denied by .*: not on a Friday/)
  const denyAgain = await cli('approval', 'deny', '--id', wire.id, '--reason', 'again')
  t.equal(denyAgain.code, 2)
  t.match(denyAgain.stderr, /already denied/)

  const heldRefund = callTool(shortTool.port, 'refund', { headers: bearer(token) })
  const refund = await pendingFor('refund')
  const timedOut = await heldRefund
  t.equal(timedOut.status, 403, 'the hold times out (--approval-timeout 2s)')
  t.match(String(timedOut.body.reasons), new RegExp(`approval ${refund.id} expired`))
  const late = await cli('approval', 'approve', '--id', refund.id)
  t.equal(late.code, 2, 'approving an expired hold fails FAILED_PRECONDITION')
  t.match(late.stderr, /expired/)
  const expired = JSON.parse(
    (await cli('approval', 'list', '--status', 'expired', '--output', 'json')).stdout,
  )
  t.ok(
    expired.approvals.some((a: { id: string }) => a.id === refund.id),
    'listed as expired',
  )

  const unknown = await cli('approval', 'approve', '--id', 'no-such-approval')
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /approval no-such-approval not found/)
  const noReason = await cli('approval', 'deny', '--id', wire.id)
  t.equal(noReason.code, 2, 'deny without --reason is a usage error')
})

t.test('malformed Authorize requests are INVALID_ARGUMENT, not a deny', async (t) => {
  const { credentials: grpcCredentials, Metadata } = await import('@grpc/grpc-js')
  const { loadAuthzApi } = await import('../../proto/loader.js')
  const client = new (loadAuthzApi().Client)(
    `unix:${node.agent.socketPath}`,
    grpcCredentials.createInsecure(),
  )
  t.teardown(() => client.close())
  const token = await jwtFor(WORKER)
  const ask = (req: object, header = true) =>
    new Promise<{ code?: number; details?: string; decision?: string }>((resolve) => {
      const md = new Metadata()
      if (header) md.set('workload.spiffe.io', 'true')
      client.Authorize(req, md, (e, r) =>
        resolve(e ? { code: e.code, details: e.details } : { decision: r?.decision }),
      )
    })
  const base = { credentials: { jwt_svid: token }, resource: { type: 'Tool', id: 'search' } }
  t.equal((await ask(base)).decision, 'allow', 'the well-formed request')
  for (const [name, req, why] of [
    ['context not an object', { ...base, context_json: '[1,2]' }, /context must be a JSON object/],
    ['context not JSON', { ...base, context_json: '{' }, /not valid JSON/],
    ['an unknown context key', { ...base, context_json: '{"admin":true}' }, /"admin" is not in the schema/],
    ['no credential', { resource: base.resource }, /give a jwt_svid/],
    ['an unknown action', { ...base, action: 'DropTables' }, /not one of/],
    [
      'a resource type the action does not take',
      { ...base, resource: { type: 'Identity', id: WORKER } },
      /does not apply/,
    ],
    ['no resource id', { ...base, resource: { type: 'Tool', id: '' } }, /resource.id is required/],
  ] as const) {
    const r = await ask(req)
    t.equal(r.code, 3, `${name}: INVALID_ARGUMENT`)
    t.match(r.details, why, name)
  }
  t.equal((await ask(base, false)).code, 3, 'no security header: INVALID_ARGUMENT')
})
