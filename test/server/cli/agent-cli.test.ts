import t from 'tap'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const A1 = 'spiffe://example.org/sigil/agent/join_token/t1'
const A2 = 'spiffe://example.org/sigil/agent/x509pop/abcd'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())
t.beforeEach(async () => {
  for (const a of await f.datastore.listAttestedAgents()) await f.datastore.deleteAttestedAgent(a.spiffeId)
  const expiresAt = new Date(Date.UTC(2030, 0, 1))
  await f.datastore.createOrUpdateAttestedAgent(
    { spiffeId: A1, attestationType: 'join_token', serialNumber: '0a1b', expiresAt, selectors: [] },
    new Date(Date.UTC(2029, 0, 1)),
  )
  await f.datastore.createOrUpdateAttestedAgent(
    {
      spiffeId: A2,
      attestationType: 'x509pop',
      serialNumber: 'ff',
      expiresAt,
      selectors: [{ type: 'x509pop', value: 'subject:cn:node2' }],
    },
    new Date(Date.UTC(2029, 0, 1)),
  )
})

t.test('agent list shows every attested agent', async (t) => {
  const r = await f.cli(['agent', 'list'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^Found 2 attested agents\n\n/)
  t.match(r.stdout, `SPIFFE ID        : ${A1}\nAttestation type : join_token\nSerial number    : 0a1b\n`)
  t.match(r.stdout, 'Expires at       : 2030-01-01T00:00:00Z\n')
  t.match(r.stdout, 'Selector         : x509pop:subject:cn:node2\n')
  const json = JSON.parse((await f.cli(['agent', 'list', '--output', 'json'])).stdout)
  t.same(
    json.agents.map((a: { spiffe_id: string }) => a.spiffe_id),
    [A1, A2],
  )
  t.match(json.agents[1], {
    attestation_type: 'x509pop',
    banned: false,
    serial: 'ff',
    expires_at: 1893456000,
  })
})

t.test('agent count counts the attested agents, banned ones included', async (t) => {
  const r = await f.cli(['agent', 'count'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '2 attested agents\n')
  t.equal((await f.cli(['agent', 'ban', '--spiffe-id', A2])).code, 0)
  t.same(JSON.parse((await f.cli(['agent', 'count', '--output', 'json'])).stdout), { count: 2 })
  t.equal((await f.cli(['agent', 'evict', '--spiffe-id', A1])).code, 0)
  t.equal((await f.cli(['agent', 'count'])).stdout, '1 attested agent\n')
  const stray = await f.cli(['agent', 'count', '-spiffeID', A2])
  t.equal(stray.code, 2)
  t.match(stray.stderr, /--spiffe-id, which this command does not take/)
})

t.test('agent show prints one agent; an unknown one exits 2', async (t) => {
  const r = await f.cli(['agent', 'show', '--spiffe-id', A2, '--output', 'json'])
  t.equal(r.code, 0, r.stderr)
  t.match(JSON.parse(r.stdout).agent, { spiffe_id: A2, last_seen: 1861920000 })
  const missing = await f.cli(['agent', 'show', '--spiffe-id', 'spiffe://example.org/sigil/agent/nope'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /^sigil-server agent show: no attested agent/)
  const bad = await f.cli(['agent', 'show', '--spiffe-id', 'not-an-id'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--spiffe-id: invalid SPIFFE ID/)
  const none = await f.cli(['agent', 'show'])
  t.equal(none.code, 2)
  t.match(none.stderr, /--spiffe-id is required/)
})

t.test('agent evict deletes the agent row, so it may attest again', async (t) => {
  const r = await f.cli(['agent', 'evict', '--spiffe-id', A1])
  t.same(r, { code: 0, stdout: `Agent evicted: ${A1}\n`, stderr: '' })
  t.equal(await f.datastore.getAttestedAgent(A1), undefined)
  t.ok(await f.datastore.getAttestedAgent(A2), 'the other agent stays')
  const again = await f.cli(['agent', 'evict', '--spiffe-id', A1])
  t.equal(again.code, 2, 'evicting an unknown agent is NOT_FOUND (exit 2)')
  t.match(f.logger.text(), /agent evicted/)
})

t.test('agent ban marks the agent banned; it cannot re-attest', async (t) => {
  const r = await f.cli(['agent', 'ban', '--spiffe-id', A2, '--output', 'json'])
  t.equal(r.code, 0, r.stderr)
  t.same(JSON.parse(r.stdout), { spiffe_id: A2, banned: true })
  const stored = await f.datastore.getAttestedAgent(A2)
  t.equal(stored?.banned, true)
  t.equal(stored?.serialNumber, '')
  await t.rejects(
    f.datastore.createOrUpdateAttestedAgent(
      { spiffeId: A2, attestationType: 'x509pop', serialNumber: '01', expiresAt: new Date(), selectors: [] },
      new Date(),
    ),
    { code: 'ERR_AGENT_BANNED' },
  )
  const shown = await f.cli(['agent', 'show', '--spiffe-id', A2])
  t.match(shown.stdout, 'Banned           : true\n')
  t.match(shown.stdout, 'Serial number    : -\n')
  t.equal((await f.cli(['agent', 'evict', '--spiffe-id', A2])).code, 0, 'evicting lifts the ban')
  t.equal(await f.datastore.getAttestedAgent(A2), undefined)
})

t.test('agent verbs refuse IDs of another trust domain', async (t) => {
  const r = await f.cli(['agent', 'ban', '--spiffe-id', 'spiffe://other.org/sigil/agent/x'])
  t.equal(r.code, 2)
  t.match(r.stderr, /not a member of trust domain/)
})
