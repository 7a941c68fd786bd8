// The real sigil-server and sigil-agent processes: a FetchX509SVID stream sees its SVID rotated
// at half-life, and the agent keeps serving valid SVIDs through a server outage, rotating them
// once the server is back, without a restart (issue 4 acceptance).
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import {
  freePort,
  type JsonLine,
  opensslVerify,
  printedSvids,
  type SvidFacts,
  startSigilNode,
  startWorkload,
  type Workload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'
import { startServerProcess } from '../helpers/server-process.js'

const TD = 'spiffe://example.org'

/** Checks one received message: one SVID of `spiffeId`, unexpired when received, verifying against its bundle. */
/**
 * The next `update` after `after` that carries a serial not in `seen`, by `deadline` (ms since
 * the epoch). Updates that repeat a held serial are skipped: the agent also pushes one when only
 * the CRLs in the response changed (a server restart or a revocation).
 */
async function nextRotation(
  w: Workload,
  after: JsonLine,
  seen: readonly string[],
  deadline: number,
): Promise<JsonLine> {
  let line = after
  for (;;) {
    line = await w.next('update', Math.max(0, deadline - Date.now()), w.output.lines.indexOf(line) + 1)
    if (!printedSvids(line).every((svid) => seen.includes(svid.serial))) return line
  }
}

async function checkReceived(t: Test, line: JsonLine, spiffeId: string, what: string): Promise<SvidFacts> {
  t.equal(line.kind === 'update' || line.kind === 'fetch', true, `${what}: an SVID, not ${String(line.kind)}`)
  const svids = printedSvids(line)
  t.equal(svids.length, 1, `${what}: one SVID`)
  const svid = svids[0]
  if (!svid) throw new Error(`${what}: no SVID in ${JSON.stringify(line)}`)
  const at = Number(line.received_at)
  t.equal(svid.spiffeId, spiffeId, `${what}: SPIFFE ID`)
  t.equal(svid.uriSan, `URI:${spiffeId}`, `${what}: URI SAN`)
  t.ok(svid.notBefore <= at && at < svid.notAfter, `${what}: valid when received`)
  t.ok(svid.keyMatches, `${what}: the key belongs to the leaf`)
  t.match(
    await opensslVerify(svid.bundlePem, svid.chainPem, at),
    /OK/,
    `${what}: verifies against its bundle`,
  )
  return svid
}

t.test('a stream receives at least two rotated SVIDs within 15 s at a 10 s TTL', async (t) => {
  const node = await startSigilNode(t)
  const script = writeWorkloadScript(node.dir, 'rotate.mjs')
  const id = `${TD}/rotating`
  await node.createEntry(id, ['unix:uid:0', `proc:script:${script}`], ['--x509-svid-ttl', '10s'])
  const w = startWorkload(t, { script, socketPath: node.agent.socketPath })
  const first = await w.next('update')
  const firstSvid = await checkReceived(t, first, id, 'first')
  t.ok(firstSvid.notAfter - Number(first.received_at) <= 11_000, 'a 10 s SVID')
  const windowEnd = Number(first.received_at) + 15_000
  const second = await nextRotation(w, first, [firstSvid.serial], windowEnd)
  const third = await nextRotation(
    w,
    second,
    [firstSvid.serial, ...printedSvids(second).map((s) => s.serial)],
    windowEnd,
  )
  const serials = [firstSvid.serial]
  for (const [i, line] of [second, third].entries()) {
    const svid = await checkReceived(t, line, id, `rotation ${i + 1}`)
    t.notOk(serials.includes(svid.serial), `rotation ${i + 1}: a new serial`)
    t.ok(Number(line.received_at) < windowEnd, `rotation ${i + 1}: within 15 s of the first`)
    serials.push(svid.serial)
  }
  t.comment(
    `rotations after ${[second, third].map((l) => Number(l.received_at) - Number(first.received_at)).join(', ')} ms`,
  )
  t.notOk(
    w.output.lines.some((l) => l.kind === 'error' || l.kind === 'end'),
    'the stream stayed open',
  )
  await w.stop()
})

t.test('through a 20 s server outage the agent serves cached SVIDs, then rotates them', async (t) => {
  const port = await freePort()
  const serverArgs = ['--agent-api-address', `127.0.0.1:${port}`]
  // Renew when 80% (±10%) of the life remains: 7–17 s into a 60 s SVID, so the renewal falls due
  // during the outage, fails, and must happen once the server is back (the SVID stays valid).
  const node = await startSigilNode(t, { serverArgs, agentArgs: ['--rotation-fraction', '0.8'] })
  const script = writeWorkloadScript(node.dir, 'outage.mjs')
  const id = `${TD}/outage`
  await node.createEntry(id, ['unix:uid:0', `proc:script:${script}`], ['--x509-svid-ttl', '60s'])
  const w1 = startWorkload(t, { script, socketPath: node.agent.socketPath })
  const first = await w1.next('update')
  const served = await checkReceived(t, first, id, 'before the outage')
  t.ok(served.notAfter - Number(first.received_at) > 50_000, 'a 60 s SVID')
  // The agent signs a spare SVID for the entry right after w1's (agent/cache/spare-svids.ts).
  const issued = () =>
    node.agent.logs.lines
      .filter((l) => l.msg === 'workload X509-SVIDs issued')
      .reduce((n, l) => n + Number(l.issued), 0)
  for (let i = 0; i < 100 && issued() < 2; i++) await sleep(50)
  t.equal(issued(), 2, "w1's SVID and a spare were signed")

  t.equal(await node.server.stop(), 0, 'the server stopped')
  const outageStart = Date.now()
  const w2 = startWorkload(t, { script, socketPath: node.agent.socketPath })
  const spare = await w2.next('update')
  const spared = await checkReceived(t, spare, id, 'a new process during the outage')
  t.not(spared.serial, served.serial, "the new process got the spare, not w1's SVID")
  const w3 = startWorkload(t, { script, socketPath: node.agent.socketPath })
  await sleep(Math.max(0, Number(first.received_at) + 18_000 - Date.now()))
  const during = await w1.fetch()
  const cached = await checkReceived(t, during, id, 'a fetch during the outage, after the renewal fell due')
  t.equal(cached.serial, served.serial, 'the cached SVID is served')
  const health = await node.agent.api('healthcheck')
  t.equal(health.code, 0, `the agent is healthy during the outage: ${health.stderr}`)
  t.ok(
    node.agent.logs.lines.some((l) => /could not get workload X509-SVIDs signed/.test(String(l.msg))),
    'the agent tried to get SVIDs signed during the outage',
  )
  await sleep(Math.max(0, outageStart + 20_000 - Date.now()))
  t.same(w3.output.lines, [], 'the next new process is held (not refused) while its SVID cannot be minted')

  const server = await startServerProcess(node.server.dataDir, serverArgs)
  t.teardown(() => server.stop())
  const back = Date.now()
  t.equal(server.agentApiAddress, `127.0.0.1:${port}`, 'the server is back on the same port')

  const rotated = await nextRotation(w1, first, [served.serial], served.notAfter)
  const renewed = await checkReceived(t, rotated, id, 'after the outage')
  t.not(renewed.serial, served.serial, 'rotated')
  t.ok(Number(rotated.received_at) > back, 'only once the server was back')
  t.comment(`rotated ${Number(rotated.received_at) - back} ms after the server came back`)

  const held = await w3.next('update', served.notAfter - Date.now())
  await checkReceived(t, held, id, 'the held process')
  t.ok(Number(held.received_at) > back, 'the held process is served once the server is back')

  t.equal(node.agent.child.exitCode, null, 'the agent kept running')
  t.equal(
    node.agent.logs.lines.filter((l) => l.msg === 'sigil-agent started').length,
    1,
    'the agent was not restarted',
  )
  for (const w of [w1, w2, w3]) {
    t.notOk(
      w.output.lines.some((l) => l.kind === 'error' || l.kind === 'end'),
      `pid ${w.pid}: no stream failed`,
    )
    for (const line of w.output.lines.filter((l) => l.kind === 'update' || l.kind === 'fetch')) {
      for (const svid of printedSvids(line)) {
        t.ok(Number(line.received_at) < svid.notAfter, `pid ${w.pid}: never an expired SVID`)
      }
    }
  }
  await Promise.all([w1.stop(), w2.stop(), w3.stop()])
})
