// Revocation with the real sigil-server and sigil-agent processes (issue 13): an operator's
// `svid revoke --jti` reaches the agent's ValidateJWTSVID through the push stream within 1 s of
// the command returning; the revocation survives a server restart and an agent restart.

import { X509Certificate } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js'
import { decodeJwt } from 'jose'
import t from 'tap'
import { crlsToPem } from '../../certs/x509svid/crl.js'
import { splitConcatenatedDer } from '../../certs/x509svid/parse-x509-svid.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import type { X509SVIDResponse__Output } from '../../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi } from '../../proto/loader.js'
import { startAgentProcess, startSigilNode } from '../helpers/agent-process.js'
import { opensslCrlVerify } from '../helpers/openssl-crl-verify.js'
import { startServerProcess } from '../helpers/server-process.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'
const uid = process.getuid?.() ?? 0
const node = await startSigilNode(t)
await node.createEntry(`${TD}/e2e/caller`, [`unix:uid:${uid}`])

const api = loadWorkloadApi()
function client(socketPath: string) {
  const c = new api.Client(`unix:${socketPath}`, credentials.createInsecure())
  t.teardown(() => c.close())
  return c
}
const md = () => {
  const m = new Metadata()
  m.set('workload.spiffe.io', 'true')
  return m
}

type Client = ReturnType<typeof client>

function fetchJwt(c: Client, audience: string): Promise<string> {
  return new Promise((resolve, reject) =>
    c.FetchJWTSVID({ audience: [audience] }, md(), (err, res) =>
      err || !res?.svids[0] ? reject(err ?? new Error('no JWT-SVID')) : resolve(res.svids[0].svid),
    ),
  )
}

function validate(c: Client, audience: string, svid: string): Promise<ServiceError | null> {
  return new Promise((resolve) => c.ValidateJWTSVID({ audience, svid }, md(), (err) => resolve(err)))
}

let agentClient = client(node.agent.socketPath)
let revokedToken = ''

t.test('svid revoke --jti: the agent refuses the token within 1 s; another token still passes', async (t) => {
  const token = await fetchJwt(agentClient, 'db')
  const other = await fetchJwt(agentClient, 'cache')
  t.equal(await validate(agentClient, 'db', token), null, 'valid before the revocation')
  revokedToken = token
  const jti = decodeJwt(token).jti as string

  const revoked = await node.server.cli('svid', 'revoke', '--jti', jti, '--reason', 'e2e: leaked')
  const returnedAt = Date.now()
  t.equal(revoked.code, 0, revoked.stderr)
  let refusal: ServiceError | null = null
  await waitUntil(
    'the agent to refuse the revoked JWT-SVID (deadline: 1 s after svid revoke returned)',
    async () => {
      refusal = await validate(agentClient, 'db', token)
      return refusal !== null
    },
    { timeoutMs: 1_000, intervalMs: 10 },
  )
  t.comment(`revocation took effect at the agent ${Date.now() - returnedAt} ms after svid revoke returned`)
  t.equal(refusal!.code, status.INVALID_ARGUMENT)
  t.match(refusal!.details, `the JWT-SVID has been revoked (jti ${jti})`)
  t.equal(await validate(agentClient, 'cache', other), null, 'an unrevoked token of the same ID passes')
  const fresh = await fetchJwt(agentClient, 'db')
  t.not(fresh, token, 'the agent does not hand out the revoked token again')
  t.equal(await validate(agentClient, 'db', fresh), null)
})

t.test('svid revoke --serial: the Workload API pushes CRLs that make openssl refuse that SVID', async (t) => {
  const dir = mkdtempSync(join(node.dir, 'crl-'))
  const messages: { svid: Buffer; bundle: Buffer; crl: Buffer[] }[] = []
  const stream = agentClient.FetchX509SVID({}, md())
  t.teardown(() => stream.cancel())
  stream.on('data', (m: X509SVIDResponse__Output) =>
    messages.push({ svid: m.svids[0]!.x509_svid, bundle: m.svids[0]!.bundle, crl: m.crl }),
  )
  stream.on('error', () => {})
  await waitUntil('the first X509-SVID message', () => messages.length > 0, { timeoutMs: 10_000 })
  const first = messages[0]!
  t.ok(first.crl.length >= 1, 'the crl field carries the CA CRL')
  const chain = splitConcatenatedDer(first.svid)
  const serial = new X509Certificate(chain[0]!).serialNumber.toLowerCase()
  const leaf = join(dir, 'leaf.pem')
  const bundle = join(dir, 'bundle.pem')
  writeFileSync(leaf, certificatesToPem([chain[0]!]))
  writeFileSync(bundle, certificatesToPem(splitConcatenatedDer(first.bundle)))
  const verify = (crls: Buffer[]) => {
    const crlFile = join(dir, `crl-${messages.length}.pem`)
    writeFileSync(crlFile, crlsToPem(crls))
    const r = opensslCrlVerify({ caFile: bundle, crlFile, leaf })
    return r.code === 0 ? 'ok' : r.out
  }
  t.equal(verify(first.crl), 'ok', 'not revoked yet: openssl accepts it with the pushed CRL')

  const seen = messages.length
  const r = await node.server.cli('svid', 'revoke', '--serial', serial, '--reason', 'e2e: key leaked')
  t.equal(r.code, 0, r.stderr)
  await waitUntil('a pushed X509SVIDResponse with a new CRL (deadline: 1 s)', () => messages.length > seen, {
    timeoutMs: 1_000,
    intervalMs: 10,
  })
  const last = messages[messages.length - 1]!
  t.match(verify(last.crl), /certificate revoked/, `${messages.length} messages; serial ${serial}`)
})

t.test('a server restart and an agent restart keep the revocation', async (t) => {
  const list = JSON.parse((await node.server.cli('revocation', 'list', '--output', 'json')).stdout)
  t.equal(list.revocations.length, 2)
  const jti = list.revocations.find((r: { kind: string }) => r.kind === 'jwt_jti').value as string
  const svids = JSON.parse(
    (await node.server.cli('svid', 'list', '--spiffe-id', `${TD}/e2e/caller`, '--output', 'json')).stdout,
  )
  t.ok(
    svids.svids.some((s: { jti: string; revoked_at: number }) => s.jti === jti && s.revoked_at > 0),
    'svid list shows it revoked',
  )

  t.equal(await node.server.stop(), 0)
  const server = await startServerProcess(node.server.dataDir, [
    '--agent-api-address',
    node.server.agentApiAddress,
  ])
  t.teardown(() => server.stop())
  const after = JSON.parse((await server.cli('revocation', 'list', '--output', 'json')).stdout)
  t.same(after, list, 'the server kept the revocation list and its sequence number')

  // a fresh agent holds nothing until the server's snapshot arrives
  t.equal(await node.agent.stop(), 0)
  const agent = await startAgentProcess({
    serverAddress: server.agentApiAddress,
    dataDir: node.agent.dataDir,
    socketPath: node.agent.socketPath,
  })
  t.teardown(() => agent.stop())
  agentClient = client(agent.socketPath)
  const token = await fetchJwt(agentClient, 'restart')
  t.equal(await validate(agentClient, 'restart', token), null)
  const revoked = await server.cli('svid', 'revoke', '--jti', decodeJwt(token).jti as string)
  t.equal(revoked.code, 0, revoked.stderr)
  await waitUntil(
    'the restarted agent to refuse a token revoked after the restarts',
    async () => (await validate(agentClient, 'restart', token)) !== null,
    { timeoutMs: 1_000, intervalMs: 10 },
  )
  const old = await validate(agentClient, 'db', revokedToken)
  t.equal(old?.code, status.INVALID_ARGUMENT, 'the token revoked before both restarts is still refused')
})
