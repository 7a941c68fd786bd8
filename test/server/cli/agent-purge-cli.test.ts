// `agent purge --expired-for D [--dry-run]` and the `agent list` filters against a real admin
// API: only agents whose SVID expired more than D ago are evicted; banned ones are kept (evicting
// lifts a ban, so purging would let a banned node attest again); a dry run changes nothing.
import t from 'tap'
import type { AttestationType } from '../../../server/datastore/records.js'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const OLD = 'spiffe://example.org/sigil/agent/join_token/old'
const RECENT = 'spiffe://example.org/sigil/agent/join_token/recent'
const LIVE = 'spiffe://example.org/sigil/agent/x509pop/live'
const BANNED = 'spiffe://example.org/sigil/agent/x509pop/banned-old'
const DAY = 86_400_000

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())
t.beforeEach(async () => {
  for (const a of await f.datastore.listAttestedAgents()) await f.datastore.deleteAttestedAgent(a.spiffeId)
  const now = Date.now()
  const add = (
    spiffeId: string,
    type: AttestationType,
    expiresAt: number,
    selectors: { type: string; value: string }[] = [],
  ) =>
    f.datastore.createOrUpdateAttestedAgent(
      { spiffeId, attestationType: type, serialNumber: '01', expiresAt: new Date(expiresAt), selectors },
      new Date(expiresAt - DAY),
    )
  await add(OLD, 'join_token', now - 40 * DAY)
  await add(RECENT, 'join_token', now - 2 * DAY)
  await add(LIVE, 'x509pop', now + DAY, [{ type: 'x509pop', value: 'subject:cn:live' }])
  await add(BANNED, 'x509pop', now - 40 * DAY, [{ type: 'x509pop', value: 'subject:cn:banned' }])
  t.equal((await f.cli(['agent', 'ban', '--spiffe-id', BANNED])).code, 0)
})

const ids = async () => (await f.datastore.listAttestedAgents()).map((a) => a.spiffeId).sort()

t.test('--dry-run lists the agents expired longer than --expired-for and changes nothing', async (t) => {
  const r = await f.cli(['agent', 'purge', '--expired-for', '1d', '--dry-run', '--output', 'json'])
  t.equal(r.code, 0, r.stderr)
  const json = JSON.parse(r.stdout)
  t.same(json, { dry_run: true, expired: [OLD, RECENT].sort(), kept_banned: [BANNED] })
  t.equal((await ids()).length, 4)
  const pretty = await f.cli(['agent', 'purge', '-dryRun'])
  t.equal(pretty.code, 0, pretty.stderr)
  t.equal(
    pretty.stdout,
    `1 expired agent would be purged\n  ${OLD}\nKept (banned): ${BANNED}\n`,
    'default 30d',
  )
})

t.test('purge evicts the expired agents only; the banned one stays banned', async (t) => {
  const r = await f.cli(['agent', 'purge', '-expiredFor', '36h'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^2 expired agents purged\n/)
  t.same(await ids(), [BANNED, LIVE].sort())
  t.equal((await f.datastore.listAttestedAgents()).find((a) => a.spiffeId === BANNED)?.banned, true)
  const again = await f.cli(['agent', 'purge', '--expired-for', '36h', '--output', 'json'])
  t.same(JSON.parse(again.stdout), { dry_run: false, purged: [], failed: [], kept_banned: [BANNED] })
  const bad = await f.cli(['agent', 'purge', '--expired-for', 'soon'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--expired-for/)
})

t.test('agent list filters: --attestation-type, --banned, --selector (AND)', async (t) => {
  const list = async (args: string[]) => {
    const r = await f.cli(['agent', 'list', ...args, '--output', 'json'])
    t.equal(r.code, 0, r.stderr)
    return (JSON.parse(r.stdout).agents as { spiffe_id: string }[]).map((a) => a.spiffe_id).sort()
  }
  t.same(await list(['--attestation-type', 'x509pop']), [BANNED, LIVE].sort())
  t.same(await list(['--banned', 'true']), [BANNED])
  t.same(await list(['-banned', 'false', '-attestationType', 'x509pop']), [LIVE])
  t.same(await list(['--selector', 'x509pop:subject:cn:live']), [LIVE])
  t.same(await list(['--attestation-type', 'tpm']), [])
  const bad = await f.cli(['agent', 'list', '--banned', 'maybe'])
  t.equal(bad.code, 2)
  const reattest = await f.cli(['agent', 'list', '-canReattest'])
  t.equal(reattest.code, 2)
  t.match(reattest.stderr, /no can-reattest field/)
})
