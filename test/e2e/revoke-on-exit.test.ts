// `--revoke-on-exit` with the real sigil-server and sigil-agent (issue 13): a workload process
// fetches its X509-SVIDs over the Workload API and exits; the agent sees the exit and reports
// the serials (RevokeExitedSvids); the serial of the entry with the option shows up in
// `sigil-server revocation list`, and the CRL from GET /crl makes `openssl verify -crl_check`
// refuse it, while the SVID of an entry without the option stays valid and unlisted.
import { X509Certificate } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { crlsToPem, normalizeSerial } from '../../certs/x509svid/crl.js'
import { splitConcatenatedDer } from '../../certs/x509svid/parse-x509-svid.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import { startSigilNode, startWorkload, writeWorkloadScript } from '../helpers/agent-process.js'
import { opensslCrlVerify } from '../helpers/openssl-crl-verify.js'
import { waitUntil } from '../helpers/wait-until.js'
import { httpsRequest } from '../server/cli/https-get.js'

const TD = 'spiffe://example.org'
const uid = process.getuid?.() ?? 0

t.test(
  'a process of a --revoke-on-exit entry exits: its X509-SVID is revoked, the other entry’s is not',
  async (t) => {
    const node = await startSigilNode(t)
    await node.createEntry(`${TD}/e2e/job`, [`unix:uid:${uid}`], ['--revoke-on-exit'])
    await node.createEntry(`${TD}/e2e/service`, [`unix:uid:${uid}`])
    const script = writeWorkloadScript(node.dir, 'workload.mjs')
    const workload = startWorkload(t, { script, socketPath: node.agent.socketPath })
    const update = await workload.next('update')
    const svids = update.svids as { spiffe_id: string; x509_svid: string; bundle: string }[]
    t.equal(svids.length, 2, `both SVIDs delivered: ${JSON.stringify(update).slice(0, 300)}`)
    const bundlePath = join(node.dir, 'e2e-bundle.pem')
    writeFileSync(
      bundlePath,
      certificatesToPem(splitConcatenatedDer(Buffer.from(svids[0]!.bundle, 'base64'))),
    )
    const leaf = (id: string) => {
      const s = svids.find((v) => v.spiffe_id === `${TD}/e2e/${id}`)!
      const der = splitConcatenatedDer(Buffer.from(s.x509_svid, 'base64'))[0]!
      const path = join(node.dir, `${id}.pem`)
      writeFileSync(path, certificatesToPem([der]))
      return { path, serial: normalizeSerial(new X509Certificate(der).serialNumber) }
    }
    const job = leaf('job')
    const service = leaf('service')

    const listed = async () => {
      const r = await node.server.cli('revocation', 'list', '--output', 'json')
      if (r.code !== 0) throw new Error(r.stderr)
      return (JSON.parse(r.stdout) as { revocations: { kind: string; value: string; reason?: string }[] })
        .revocations
    }
    t.same(await listed(), [], 'nothing revoked while the process runs')
    t.equal(await workload.stop(), 0, 'the workload exited')
    const exitedAt = Date.now()
    await waitUntil(
      'the exited process’s revoke-on-exit serial on the revocation list',
      async () => (await listed()).some((r) => r.kind === 'x509_serial' && r.value === job.serial),
      { timeoutMs: 15_000, intervalMs: 100 },
    )
    t.comment(`revoked ${Date.now() - exitedAt} ms after the process exited`)
    const all = await listed()
    t.match(all, [{ kind: 'x509_serial', value: job.serial, reason: /process exited/ }])
    t.equal(all.length, 1, 'the entry without --revoke-on-exit is not revoked')
    await node.agent.logs.waitFor(
      (l) => l.msg === 'reported X509-SVIDs of exited processes' && l.revoked === 1 && l.refused === 0,
      'the agent logs the report',
      5_000,
    )

    const ca = readFileSync(join(node.server.dataDir, 'bundle-endpoint', 'dev-ca.pem'))
    const crl = await httpsRequest(`${node.server.bundleEndpointUrl.replace(/\/$/, '')}/crl`, { ca })
    t.equal(crl.status, 200)
    const crlPath = join(node.dir, 'crl.pem')
    writeFileSync(crlPath, crlsToPem(splitConcatenatedDer(crl.raw)))
    const verify = (leaf: string) => opensslCrlVerify({ caFile: bundlePath, crlFile: crlPath, leaf })
    const bad = verify(job.path)
    t.not(bad.code, 0, 'openssl refuses the exited process’s SVID')
    t.match(bad.out, /certificate revoked/)
    const good = verify(service.path)
    t.equal(good.code, 0, `the other entry’s SVID passes: ${good.out}`)
  },
)
