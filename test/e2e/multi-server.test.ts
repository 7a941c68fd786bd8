// Two real sigil-server processes on one real PostgreSQL (issue 15): the second joins with
// --join-datastore and its own CA; the shared bundle holds both servers' CAs; an entry created
// through server A reaches an agent attached to server B at once — pushed (entries_changed), not
// picked up by the agent's sync interval, which is set far longer than the wait here; revocations
// and policies set through A are in force at B.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import {
  printedSvids,
  startAgentProcess,
  startWorkload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'
import { bundleRoots, startServerPair } from '../helpers/server-pair.js'
import { startServerProcess } from '../helpers/server-process.js'
import { waitUntil } from '../helpers/wait-until.js'
import { httpsRequest } from '../server/cli/https-get.js'

const TD = 'spiffe://example.org'
const { dir, env, a: serverA, b: serverB } = await startServerPair(t)

t.test('a server with no keys refuses a datastore in use unless it joins on purpose', async (t) => {
  const refused = startServerProcess(join(dir, 'c'), [], env)
  await t.rejects(refused, /--join-datastore/, 'the refusal names the flag')
})

t.test('the shared bundle holds both servers’ CAs, as both servers see it', async (t) => {
  const a = await bundleRoots(serverA)
  const b = await bundleRoots(serverB)
  t.equal(a.length, 2, 'one root per server')
  t.same([...a].sort(), [...b].sort(), 'both servers publish the same bundle')
})

t.test('an entry created through server A is served by an agent attached to server B at once', async (t) => {
  const agentId = `${TD}/node-b`
  const token = await serverA.cli('token', 'generate', '--spiffe-id', agentId)
  t.equal(token.code, 0, token.stderr)
  const bundlePath = join(dir, 'bundle.pem')
  writeFileSync(bundlePath, (await serverA.cli('bundle', 'show')).stdout)
  // the token was made through A and is consumed through B: one datastore
  const agent = await startAgentProcess({
    serverAddress: serverB.agentApiAddress,
    dataDir: join(dir, 'agent'),
    socketPath: join(dir, 'api', 'agent.sock'),
    joinToken: token.stdout.trim(),
    trustBundle: bundlePath,
    extraArgs: ['--sync-interval', '10m'],
  })
  t.teardown(() => agent.stop())
  const script = writeWorkloadScript(dir, 'workload.mjs')
  const from = agent.logs.lines.length
  const started = Date.now()
  const created = await serverA.cli(
    'entry',
    'create',
    '--spiffe-id',
    `${TD}/via-a`,
    '--parent-id',
    agentId,
    '--selector',
    'unix:uid:0',
    '--selector',
    `proc:script:${realpathSync(script)}`,
  )
  t.equal(created.code, 0, created.stderr)
  const acknowledged = Date.now()
  const synced = await agent.logs.waitFor(
    (l) => l.msg === 'synced authorized entries' && l.entries === 1,
    'the agent on server B to sync the entry created through server A (its sync interval is 10 minutes: only a push brings it)',
    15_000,
    from,
  )
  t.comment(
    `entry created through A synced by the agent on B ${Date.parse(String(synced.time)) - started} ms after the create call began (the CLI call took ${acknowledged - started} ms)`,
  )
  const w = startWorkload(t, { script, socketPath: agent.socketPath })
  const update = await w.next('update')
  t.same(
    printedSvids(update).map((s) => s.spiffeId),
    [`${TD}/via-a`],
    'the workload gets the SVID from the agent on B',
  )

  t.test('a policy set through A is pushed to the agent on B', async (t) => {
    const file = join(dir, 'allow-all.cedar')
    writeFileSync(file, '@id("allow-all")\npermit (principal, action, resource);\n')
    const from = agent.logs.lines.length
    const set = await serverA.cli('policy', 'set', '--file', file)
    t.equal(set.code, 0, set.stderr)
    const inForce = await agent.logs.waitFor(
      (l) => l.msg === 'policy in force' && Number(l.policy_version) >= 1,
      'the agent on B to put the policy set through A in force',
      15_000,
      from,
    )
    t.equal(inForce.policies, 1)
  })

  t.test('a serial revoked through A is on B’s revocation list', async (t) => {
    const serial = printedSvids(update)[0]?.serial
    t.ok(serial)
    const revoked = await serverA.cli('svid', 'revoke', '--serial', String(serial))
    t.equal(revoked.code, 0, revoked.stderr)
    // B's bundle endpoint serves B's in-memory revocation list (the one B pushes to its agents)
    const feedOfB = async () => {
      const ca = readFileSync(join(serverB.dataDir, 'bundle-endpoint', 'dev-ca.pem'))
      const res = await httpsRequest(`${serverB.bundleEndpointUrl.replace(/\/$/, '')}/revocations`, { ca })
      return JSON.parse(res.body) as { revocations: { kind: string; value: string }[] }
    }
    await waitUntil(
      'server B to hold the serial revoked through server A',
      async () => (await feedOfB()).revocations.some((r) => r.value === serial),
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    t.pass('B holds it and would push it to its agents')
  })
})
