// Forced rotation with the real sigil-server, sigil-agent and workload processes (issue 16 item
// 4): `localauthority x509 prepare` → `activate` → `taint` the old CA → the agent re-issues its
// workload's X509-SVID (and its own SVID) at once, the time from taint to the new serial is
// measured; `revoke` → the old CA leaves `bundle show` and the old SVID no longer verifies with
// openssl against the new bundle. The same for JWT: `taint` → the workload's cached JWT-SVID is
// re-minted under the new kid; `revoke` → the old kid leaves the JWKS and the agent's
// ValidateJWTSVID refuses the old token. Tainting or revoking the
// active authority is refused.
import { X509Certificate } from 'node:crypto'
import { realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeProtectedHeader } from 'jose'
import t from 'tap'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import {
  type JsonLine,
  opensslVerify,
  printedSvids,
  startSigilNode,
  startWorkload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'
import { AGENT_BIN } from '../helpers/server-process.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'

interface Shown {
  active: { authority_id: string } | null
  prepared: { authority_id: string } | null
  old: { authority_id: string; tainted: boolean }[]
}

type Node = Awaited<ReturnType<typeof startSigilNode>>

async function show(node: Node, kind: 'x509' | 'jwt'): Promise<Shown> {
  const r = await node.server.cli('localauthority', kind, 'show', '--output', 'json')
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as Shown
}

async function change(node: Node, kind: 'x509' | 'jwt', action: string, id?: string) {
  return node.server.cli(
    'localauthority',
    kind,
    action,
    ...(id ? ['--authority-id', id] : []),
    '--output',
    'json',
  )
}

/** The authority key ID (hex) of the leaf of a PEM chain: the ID of the CA that signed it. */
function signerOf(chainPem: string): string {
  const leaf = new X509Certificate(chainPem).raw
  return readCertificateFacts(leaf).authorityKeyId?.toString('hex') ?? ''
}

t.test(
  'x509: prepare, activate, taint (agent re-issues at once), revoke (old CA leaves the bundle)',
  async (t) => {
    const node = await startSigilNode(t)
    const script = writeWorkloadScript(node.dir, 'la-workload.mjs')
    const id = `${TD}/la`
    await node.createEntry(id, ['unix:uid:0', `proc:script:${script}`], ['--x509-svid-ttl', '1h'])
    const w = startWorkload(t, { script, socketPath: node.agent.socketPath })
    const first = await w.next('update')
    const oldSvid = printedSvids(first)[0]!

    const before = await show(node, 'x509')
    const oldId = before.active?.authority_id ?? ''
    t.match(oldId, /^[0-9a-f]{40}$/, 'the active CA is named by its subject key ID')
    t.equal(signerOf(oldSvid.chainPem), oldId, 'the first SVID comes from it')
    t.equal(before.prepared, null, 'nothing prepared yet (a 24 h CA)')

    const refusedActive = await change(node, 'x509', 'taint', oldId)
    t.equal(refusedActive.code, 2, 'tainting the active CA is refused')
    t.match(refusedActive.stderr, /only an old authority can be tainted/)

    const prepared = await change(node, 'x509', 'prepare')
    t.equal(prepared.code, 0, prepared.stderr)
    const newId = JSON.parse(prepared.stdout).authority.authority_id as string
    t.not(newId, oldId)
    t.match(await show(node, 'x509'), { active: { authority_id: oldId }, prepared: { authority_id: newId } })
    // the agent hands the new CA to workloads before it signs anything
    const withBoth = await w.output.waitFor(
      (l) =>
        l.kind === 'update' && (printedSvids(l)[0]?.bundlePem.match(/BEGIN CERTIFICATE/g) ?? []).length === 2,
      'the workload bundle with both CAs',
      20_000,
    )
    t.ok(withBoth, 'the prepared CA reached the workload bundle')

    const wrongActivate = await change(node, 'x509', 'activate', oldId)
    t.equal(wrongActivate.code, 2, 'activating the active one is refused')
    t.match(wrongActivate.stderr, /only the prepared authority can be activated/)
    const unknown = await change(node, 'x509', 'activate', 'ab'.repeat(20))
    t.equal(unknown.code, 2, 'an unknown authority ID is NOT_FOUND (exit 2)')
    t.match(unknown.stderr, /no X\.509 authority with ID/)
    const activated = await change(node, 'x509', 'activate', newId)
    t.equal(activated.code, 0, activated.stderr)
    t.match(await show(node, 'x509'), {
      active: { authority_id: newId },
      prepared: null,
      old: [{ authority_id: oldId, tainted: false }],
    })
    const notTainted = await change(node, 'x509', 'revoke', oldId)
    t.equal(notTainted.code, 2, 'revoking an old CA that is not tainted is refused')
    t.match(notTainted.stderr, /taint it first/)

    // taint: the agent re-issues the workload's SVID (signed by the old CA) at once
    const from = w.output.lines.length
    const taintedAt = Date.now()
    const tainted = await change(node, 'x509', 'taint', oldId)
    const taintReturned = Date.now()
    t.equal(tainted.code, 0, tainted.stderr)
    const renewed = await w.output.waitFor(
      (l) => l.kind === 'update' && printedSvids(l)[0]?.serial !== oldSvid.serial,
      'a new X509-SVID after the taint',
      20_000,
      from,
    )
    const tookMs = Number(renewed.received_at) - taintedAt
    const taintLogged = node.server.logs.find(
      (l) => l.msg === 'authority tainted: agents re-issue what it signed',
    )
    const serverMs = Number(renewed.received_at) - Date.parse(String(taintLogged?.time))
    t.comment(
      `taint → new workload X509-SVID: ${serverMs} ms after the server applied the taint, ${tookMs} ms after starting the CLI (${Number(renewed.received_at) - taintReturned} ms after it returned; agent sync interval 1 s, SVID TTL 1 h)`,
    )
    const newSvid = printedSvids(renewed)[0]!
    t.match(
      await opensslVerify(newSvid.bundlePem, newSvid.chainPem, Date.now()),
      /OK/,
      'the new SVID verifies',
    )
    t.equal(signerOf(newSvid.chainPem), newId, 'signed by the new CA')
    await node.agent.logs.waitFor(
      (l) => l.msg === 'agent SVID renewed' && l.reason === 'signed by a tainted authority',
      'the agent renews its own SVID signed by the tainted CA',
      20_000,
    )
    t.match(await show(node, 'x509'), { old: [{ authority_id: oldId, tainted: true }] })

    // revoke: the old CA leaves the bundle; the old SVID stops verifying against it
    const revokeActive = await change(node, 'x509', 'revoke', newId)
    t.equal(revokeActive.code, 2, 'revoking the active CA is refused')
    t.match(revokeActive.stderr, /the active authority cannot be revoked/)
    const revoked = await change(node, 'x509', 'revoke', oldId)
    t.equal(revoked.code, 0, revoked.stderr)
    const bundle = await node.server.cli('bundle', 'show')
    t.equal((bundle.stdout.match(/BEGIN CERTIFICATE/g) ?? []).length, 1, 'one CA left in bundle show')
    await t.rejects(
      opensslVerify(bundle.stdout, oldSvid.chainPem, Date.now()),
      /openssl verify failed/,
      'the SVID signed by the revoked CA no longer verifies against the new bundle',
    )
    t.match(
      await opensslVerify(bundle.stdout, newSvid.chainPem, Date.now()),
      /OK/,
      'the new SVID still verifies',
    )
    t.match(await show(node, 'x509'), { active: { authority_id: newId }, old: [] })
    await w.output.waitFor(
      (l) =>
        l.kind === 'update' && (printedSvids(l)[0]?.bundlePem.match(/BEGIN CERTIFICATE/g) ?? []).length === 1,
      'the workload bundle without the revoked CA',
      20_000,
    )
    // the agent keeps working with the server (its SVID comes from the new CA)
    const from2 = node.agent.logs.lines.length
    await node.agent.logs.waitFor(
      (l) => l.msg === 'synced authorized entries',
      'a sync after the revoke',
      10_000,
      from2,
    )
    t.notOk(
      w.output.lines.some((l: JsonLine) => l.kind === 'error'),
      'the workload stream stayed open throughout',
    )
    await w.stop()
  },
)

t.test(
  'jwt: taint re-mints the cached JWT-SVID under the new key; revoke removes the kid from the JWKS',
  async (t) => {
    const node = await startSigilNode(t)
    const script = writeWorkloadScript(node.dir, 'la-jwt.mjs')
    await node.createEntry(`${TD}/la-jwt`, ['unix:uid:0', `proc:script:${script}`], ['--jwt-svid-ttl', '1h'])
    // the agent CLI validates tokens through the Workload API, as a registered workload
    await node.createEntry(`${TD}/cli`, ['unix:uid:0', `proc:script:${realpathSync(AGENT_BIN)}`])
    const tokenFile = join(node.dir, 'old-token')
    const validates = async (token: string) => {
      writeFileSync(tokenFile, token, { mode: 0o600 })
      return (await node.agent.api('api', 'validate', 'jwt', '--audience', 'db', '--svid-file', tokenFile))
        .code
    }
    const w = startWorkload(t, { script, socketPath: node.agent.socketPath })
    await w.next('update')
    const jwt = async () => {
      const from = w.output.lines.length
      w.child.stdin?.write('jwt\n')
      const line = await w.output.waitFor(
        (l) => l.kind === 'jwt' || l.of === 'jwt',
        'a JWT-SVID',
        20_000,
        from,
      )
      if (line.kind !== 'jwt') throw new Error(JSON.stringify(line))
      return String(line.token)
    }
    const first = await jwt()
    t.equal(await jwt(), first, 'the same process gets its cached JWT-SVID')
    const oldKid = decodeProtectedHeader(first).kid ?? ''
    t.match(await show(node, 'jwt'), { active: { authority_id: oldKid } })

    const refused = await change(node, 'jwt', 'revoke', oldKid)
    t.equal(refused.code, 2, 'revoking the active JWT key is refused')
    const prepared = await change(node, 'jwt', 'prepare')
    t.equal(prepared.code, 0, prepared.stderr)
    const newKid = JSON.parse(prepared.stdout).authority.authority_id as string
    t.equal((await change(node, 'jwt', 'activate', newKid)).code, 0)
    t.equal(await jwt(), first, 'activation alone keeps the cached token')

    const taintedAt = Date.now()
    t.equal((await change(node, 'jwt', 'taint', oldKid)).code, 0)
    let fresh = first
    await waitUntil(
      'a JWT-SVID under the new kid',
      async () => {
        fresh = await jwt()
        return fresh !== first
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    )
    t.comment(`taint → re-minted JWT-SVID within ${Date.now() - taintedAt} ms`)
    t.equal(decodeProtectedHeader(fresh).kid, newKid, 'the new token is signed by the new key')

    t.equal(await validates(first), 0, 'the old token still validates while its key is only tainted')
    t.equal((await change(node, 'jwt', 'revoke', oldKid)).code, 0)
    await waitUntil(
      'the agent refuses the token of the revoked key',
      async () => (await validates(first)) !== 0,
      {
        timeoutMs: 20_000,
        intervalMs: 200,
      },
    )
    t.equal(await validates(fresh), 0, 'the new token validates')
    const spiffe = await node.server.cli('bundle', 'show', '--format', 'spiffe', '--output', 'json')
    const kids = (JSON.parse(spiffe.stdout).bundle.keys as { use: string; kid?: string }[])
      .filter((k) => k.use === 'jwt-svid')
      .map((k) => k.kid)
    t.same(kids, [newKid], 'only the new kid is left in the JWKS')
    await w.stop()
  },
)
