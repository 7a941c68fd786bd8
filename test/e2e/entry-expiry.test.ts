// Entry expiry with the real server, agent and a workload (issue 16 item 4, SPIRE's
// -entryExpiry): an entry created with --entry-expiry a few seconds ahead is served until then;
// once past, the agent no longer holds it, the workload's next fetch gets no SVID, and the
// server prunes the entry (entry show no longer lists it).
import t from 'tap'
import { printedSvids, startSigilNode, startWorkload, writeWorkloadScript } from '../helpers/agent-process.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'

t.test('an expired entry stops being served and is pruned', async (t) => {
  const node = await startSigilNode(t)
  const script = writeWorkloadScript(node.dir, 'expiring.mjs')
  const expiry = Math.floor(Date.now() / 1000) + 6
  await node.createEntry(
    `${TD}/expiring`,
    ['unix:uid:0', `proc:script:${script}`],
    ['--entry-expiry', String(expiry)],
  )
  const shown = await node.server.cli('entry', 'show', '--spiffe-id', `${TD}/expiring`, '--output', 'json')
  t.equal(Number(JSON.parse(shown.stdout).entries[0].expires_at), expiry, 'entry show has the expiry')
  const w = startWorkload(t, { script, socketPath: node.agent.socketPath })
  const first = await w.next('update')
  t.equal(printedSvids(first)[0]?.spiffeId, `${TD}/expiring`, 'served before it expires')

  const from = node.agent.logs.lines.length
  await node.agent.logs.waitFor(
    (l) => l.msg === 'synced authorized entries' && l.entries === 0,
    'the agent syncs without the expired entry',
    30_000,
    from,
  )
  t.ok(Date.now() / 1000 >= expiry, 'only after the expiry')
  const after = await w.fetch()
  t.not(after.kind === 'fetch' && printedSvids(after).length > 0, true, 'the next fetch gets no SVID')
  await waitUntil(
    'the server prunes the expired entry',
    async () => {
      const r = await node.server.cli('entry', 'count', '--output', 'json')
      return r.code === 0 && Number(JSON.parse(r.stdout).count) === 0
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  t.ok(
    node.server.logs.some((l) => l.msg === 'expired registration entry pruned'),
    'the prune is logged',
  )
  await w.stop()
})
