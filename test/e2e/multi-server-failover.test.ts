// kill -9 of one of two servers on one PostgreSQL during a storm of entry creations and
// issuance (issue 15 acceptance): every entry a server acknowledged is present afterwards, the
// agent (--server-address A,B) carries on through the surviving server without attesting again,
// its workload is never served an expired SVID and never loses its SVID, and the survivor's
// /metrics shows issuance moving.
import { realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import {
  type JsonLine,
  printedSvids,
  startAgentProcess,
  startWorkload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'
import { startServerPair } from '../helpers/server-pair.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'
/** Short SVIDs, so the agent renews across the kill (a rotation has to go through the survivor). */
const SVID_TTL = ['--x509-svid-ttl', '20s']
const {
  dir,
  a: serverA,
  b: serverB,
} = await startServerPair(t, { args: SVID_TTL, argsB: ['--metrics-address', '127.0.0.1:0'] })
const metricsOfB = String(serverB.logs.find((l) => l.msg === 'sigil-server started')?.metrics)

/** The sum of every sample of `name` on B's /metrics. */
async function metricSum(name: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', metricsOfB))).text()
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
}

t.test(
  'kill -9 of server A during a storm: nothing acknowledged is lost, the agent carries on through B',
  async (t) => {
    const agentId = `${TD}/node-ha`
    const token = await serverA.cli('token', 'generate', '--spiffe-id', agentId)
    const bundlePath = join(dir, 'bundle.pem')
    writeFileSync(bundlePath, (await serverB.cli('bundle', 'show')).stdout)
    const agent = await startAgentProcess({
      serverAddress: `${serverA.agentApiAddress},${serverB.agentApiAddress}`,
      dataDir: join(dir, 'agent'),
      socketPath: join(dir, 'api', 'agent.sock'),
      joinToken: token.stdout.trim(),
      trustBundle: bundlePath,
    })
    t.teardown(() => agent.stop())
    const script = writeWorkloadScript(dir, 'workload.mjs')
    const selectors = ['--selector', 'unix:uid:0', '--selector', `proc:script:${realpathSync(script)}`]
    const base = await serverA.cli(
      'entry',
      'create',
      '--spiffe-id',
      `${TD}/base`,
      '--parent-id',
      agentId,
      ...selectors,
    )
    t.equal(base.code, 0, base.stderr)
    const w = startWorkload(t, { script, socketPath: agent.socketPath })
    await w.next('update', 20_000)
    const issuedBefore = await metricSum('sigil_server_svids_issued_total')

    // the storm: one creator per server, each entry a new SVID for the workload
    const acknowledged: string[] = []
    const refused: string[] = []
    let storming = true
    const creator = async (server: typeof serverA, name: string) => {
      for (let i = 0; storming; i++) {
        const id = `${TD}/storm/${name}/${i}`
        const r = await server.cli('entry', 'create', '--spiffe-id', id, '--parent-id', agentId, ...selectors)
        ;(r.code === 0 ? acknowledged : refused).push(id)
        if (
          r.code !== 0 &&
          server === serverA &&
          serverA.child.exitCode === null &&
          serverA.child.signalCode === null
        ) {
          throw new Error(`entry create through a live server failed: ${r.stderr}`)
        }
        if (r.code !== 0) return
      }
    }
    const stormA = creator(serverA, 'a')
    const stormB = creator(serverB, 'b')
    await waitUntil('a few entries acknowledged before the kill', () => acknowledged.length >= 6, {
      timeoutMs: 30_000,
      intervalMs: 50,
    })
    serverA.child.kill('SIGKILL')
    const killedAt = Date.now()
    await waitUntil('the storm to go on through B after the kill', () => acknowledged.length >= 16, {
      timeoutMs: 60_000,
      intervalMs: 100,
    })
    storming = false
    await Promise.all([stormA, stormB])
    t.comment(`${acknowledged.length} entries acknowledged, ${refused.length} refused (server A killed)`)

    // every acknowledged entry is stored
    const shown = await serverB.cli('entry', 'show', '--output', 'json')
    t.equal(shown.code, 0, shown.stderr)
    const stored = new Set(
      (JSON.parse(shown.stdout) as { entries?: { spiffe_id: string }[] }).entries?.map((e) => e.spiffe_id) ??
        (JSON.parse(shown.stdout) as { spiffe_id: string }[]).map?.((e) => e.spiffe_id),
    )
    t.same(
      acknowledged.filter((id) => !stored.has(id)),
      [],
      'no acknowledged entry is missing',
    )

    // the agent serves every acknowledged entry through B
    const want = [`${TD}/base`, ...acknowledged]
    let latest: JsonLine | undefined
    await waitUntil(
      'the workload to hold an SVID for every acknowledged entry (through server B)',
      async () => {
        latest = await w.fetch(10_000)
        const have = new Set(latest.kind === 'fetch' ? printedSvids(latest).map((s) => s.spiffeId) : [])
        return want.every((id) => have.has(id))
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    )
    t.pass(`the agent served all ${want.length} SVIDs through B after the kill`)

    // keep watching across at least one renewal through B
    await waitUntil('one more SVID rotation after the kill', () => Date.now() - killedAt > 22_000, {
      timeoutMs: 40_000,
      intervalMs: 500,
    })
    const updates = w.output.lines.filter((l) => l.kind === 'update' || l.kind === 'fetch')
    const expired = updates.flatMap((l) =>
      printedSvids(l)
        .filter((s) => s.notAfter <= Number(l.received_at))
        .map((s) => `${s.spiffeId} (served ${Number(l.received_at) - s.notAfter} ms after expiry)`),
    )
    t.same(expired, [], '0 expired SVIDs served')
    t.same(
      w.output.lines.filter((l) => l.kind === 'error' || l.kind === 'end'),
      [],
      'the workload stream never failed or ended',
    )
    const stream = w.output.lines.filter((l) => l.kind === 'update')
    for (const [i, l] of stream.entries()) {
      const next = stream[i + 1]
      const baseSvid = printedSvids(l).find((s) => s.spiffeId === `${TD}/base`)
      if (!baseSvid) {
        t.fail(`update ${i} lacks the workload's base SVID`)
        continue
      }
      if (next && Number(next.received_at) > baseSvid.notAfter)
        t.fail(`update ${i + 1} came after update ${i}'s SVID expired`)
    }
    t.notOk(
      agent.logs.lines.some(
        (l) =>
          typeof l.msg === 'string' &&
          /attested with the server|node attested/i.test(l.msg) &&
          Date.parse(String(l.time)) > killedAt,
      ),
      'the agent did not attest again',
    )
    t.ok(
      (await metricSum('sigil_server_svids_issued_total')) > issuedBefore,
      'B’s issuance counter moved during the test',
    )
  },
)
