// The agent's failover metrics: the failover counter by reason, the healthy-server gauge and the
// nudge counter, read through the registry's Prometheus text as a scrape would.
import t from 'tap'
import { AgentMetrics } from '../../../agent/metrics/agent-metrics.js'

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1))
}

t.test('failovers by reason, healthy servers, nudges by kind', async (t) => {
  const metrics = new AgentMetrics()
  let healthy = 2
  metrics.setSources({
    cache: () => ({}) as never,
    agentSvidExpiry: () => undefined,
    revocationSequence: () => 0,
    healthyServers: () => healthy,
  })
  let text = await metrics.registry.metrics()
  for (const reason of ['connection_refused', 'unavailable', 'deadline_exceeded', 'transport']) {
    t.equal(
      sample(text, `sigil_agent_server_failovers_total{reason="${reason}"}`),
      0,
      `${reason}: a zero series`,
    )
  }
  t.equal(sample(text, 'sigil_agent_healthy_servers'), 2)
  metrics.failover('connection_refused')
  metrics.failover('connection_refused')
  metrics.failover('deadline_exceeded')
  metrics.nudged('entries_changed')
  healthy = 1
  text = await metrics.registry.metrics()
  t.equal(sample(text, 'sigil_agent_server_failovers_total{reason="connection_refused"}'), 2)
  t.equal(sample(text, 'sigil_agent_server_failovers_total{reason="deadline_exceeded"}'), 1)
  t.equal(sample(text, 'sigil_agent_healthy_servers'), 1, 'read at scrape time')
  t.equal(sample(text, 'sigil_agent_sync_nudges_total{kind="entries_changed"}'), 1)
  t.equal(sample(text, 'sigil_agent_sync_nudges_total{kind="bundle_changed"}'), 0)
})
