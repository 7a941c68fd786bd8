// Attacks on Authorize and on human approval (issue 14 items 4, 5), against the real processes:
// a held workload tries to approve its own hold (uid 65534: the admin socket refuses it; the
// agent socket has no approval RPC), and callers present forged credentials to a tool server:
// a JWT-SVID signed by a foreign key under our kid, `alg: none`, an edited payload, an X509-SVID
// from a foreign CA that claims our SPIFFE ID, a forged Txn-Token. Each is a deny with a reason.
import { generateKeyPairSync } from 'node:crypto'
import { credentials, Metadata } from '@grpc/grpc-js'
import { SignJWT } from 'jose'
import t from 'tap'
import { privateKeyToPkcs8Pem } from '../../certs/keys/keys.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import { loadAdminApi } from '../../proto/loader.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { AUTHZ_POLICY, callTool, startAuthzToolServer, writePolicyFile } from '../helpers/authz-tool.js'
import { runBin, SERVER_BIN } from '../helpers/server-process.js'
import { createTestCa } from '../helpers/testca.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'
const WORKER = `${TD}/worker`
const TOOL = `${TD}/tool`
const NOBODY = 65534
const uid = process.getuid?.() ?? 0

const policyFile = writePolicyFile(t, AUTHZ_POLICY)
const node = await startSigilNode(t, {
  agentArgs: ['--policy-file', policyFile, '--approval-timeout', '30s'],
})
await node.createEntry(TOOL, [`unix:uid:${uid}`])
await node.createEntry(WORKER, [`unix:uid:${uid}`])
const cli = (...a: string[]) => node.server.cli(...a)
const mint = await cli('x509', 'mint', '--spiffe-id', TOOL, '--dns-name', 'localhost', '--output', 'json')
const toolSvid = JSON.parse(mint.stdout) as { svid_pem: string; key_pem: string }
const tool = await startAuthzToolServer({
  socketPath: node.agent.socketPath,
  cert: toolSvid.svid_pem,
  key: toolSvid.key_pem,
})
t.teardown(() => tool.close())
const realToken = (await cli('jwt', 'mint', '--spiffe-id', WORKER, '--audience', TOOL)).stdout.trim()
const [realHeader, realPayload] = realToken.split('.') as [string, string]
const kid = JSON.parse(Buffer.from(realHeader, 'base64url').toString()).kid as string

const serverCliAs = (id: number, args: string[]) =>
  runBin(SERVER_BIN, args, { cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, uid: id })

t.test(
  'a held workload cannot approve its own hold: not on the admin socket, not on the agent socket',
  async (t) => {
    const held = callTool(tool.port, 'payroll', { headers: { authorization: `Bearer ${realToken}` } })
    let id = ''
    await waitUntil(
      'the call is held (a pending approval)',
      async () => {
        const list = JSON.parse(
          (await cli('approval', 'list', '--status', 'pending', '--output', 'json')).stdout,
        )
        id = list.approvals[0]?.id ?? ''
        return id !== ''
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    const asNobody = await serverCliAs(NOBODY, [
      'approval',
      'approve',
      '--id',
      id,
      '--admin-socket',
      node.server.adminSocket,
    ])
    t.not(asNobody.code, 0, 'uid 65534 cannot reach the admin socket')
    t.match(asNobody.stderr, /admin socket|EACCES|permission|connect/i)

    const onAgentSocket = new (loadAdminApi().Client)(
      `unix:${node.agent.socketPath}`,
      credentials.createInsecure(),
    )
    t.teardown(() => onAgentSocket.close())
    const md = new Metadata()
    md.set('workload.spiffe.io', 'true')
    const err = await new Promise<{ code?: number }>((resolve) =>
      onAgentSocket.ApproveApproval({ id, for_seconds: 3600 }, md, (e) => resolve(e ?? {})),
    )
    t.equal(err.code, 12, 'the agent socket serves no approval RPC (UNIMPLEMENTED)')

    const still = JSON.parse(
      (await cli('approval', 'list', '--status', 'pending', '--output', 'json')).stdout,
    )
    t.ok(
      still.approvals.some((a: { id: string }) => a.id === id),
      'the hold is still pending',
    )
    const denied = await cli('approval', 'deny', '--id', id, '--reason', 'cleanup')
    t.equal(denied.code, 0, denied.stderr)
    t.equal((await held).status, 403)
  },
)

t.test('forged JWT-SVIDs are denied with a reason, never allowed', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const now = Math.floor(Date.now() / 1000)
  const foreign = await new SignJWT({ sub: WORKER, aud: [TOOL], exp: now + 300, iat: now })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .sign(privateKey)
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${realPayload}.`
  const payload = JSON.parse(Buffer.from(realPayload, 'base64url').toString())
  const edited = `${realHeader}.${Buffer.from(JSON.stringify({ ...payload, sub: `${TD}/admin` })).toString('base64url')}.${realToken.split('.')[2]}`
  for (const [name, token, why] of [
    ['a foreign key under our kid', foreign, /ERR_JWT_SIGNATURE_INVALID/],
    ['alg none', none, /ERR_JWT/],
    ['an edited payload', edited, /ERR_JWT_SIGNATURE_INVALID/],
  ] as const) {
    const r = await callTool(tool.port, 'search', { headers: { authorization: `Bearer ${token}` } })
    t.equal(r.status, 403, name)
    t.match(String(r.body.reasons), why, `${name}: ${String(r.body.reasons)}`)
    t.same(r.body.policy_ids, [], `${name}: no policy was consulted`)
  }
  const real = await callTool(tool.port, 'search', { headers: { authorization: `Bearer ${realToken}` } })
  t.equal(real.status, 200, 'the genuine token is allowed (the policy would allow the forged ones)')
})

t.test('an X509-SVID from a foreign CA claiming our SPIFFE ID is denied', async (t) => {
  const ca = await createTestCa({ trustDomain: 'example.org' })
  const svid = await ca.mintSvid('/worker')
  const r = await callTool(tool.port, 'search', {
    cert: certificatesToPem(svid.chainDer),
    key: privateKeyToPkcs8Pem(svid.privateKey),
  })
  t.equal(r.status, 403)
  t.match(String(r.body.reasons), /X509-SVID rejected \(ERR_SVID_UNTRUSTED\)/)
})

t.test('a forged Txn-Token is denied', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const now = Math.floor(Date.now() / 1000)
  const forged = await new SignJWT({
    aud: 'example.org',
    txn: 'forged-task',
    sub: WORKER,
    req_wl: WORKER,
    iat: now,
    exp: now + 300,
    scope: 'search',
  })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'txntoken+jwt' })
    .sign(privateKey)
  const r = await callTool(tool.port, 'search', { headers: { 'txn-token': forged } })
  t.equal(r.status, 403)
  t.match(String(r.body.reasons), /Txn-Token rejected/)
})
