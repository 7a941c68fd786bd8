// End to end: real `node` processes under another uid connect to a real Unix socket; the kernel
// names them (agent/peercred) and /proc describes them (WorkloadAttestor).
import { execFileSync } from 'node:child_process'
import { readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import {
  type PeerCredentials,
  pidfdIsAlive,
  readPeerCredentials,
  releasePeerCredentials,
} from '../../../agent/peercred/peer-credentials.js'
import { readProcessStartTime } from '../../../agent/workloadattestation/process-start-time.js'
import { WorkloadAttestor } from '../../../agent/workloadattestation/workload-attestor.js'
import { formatSelector } from '../../../certs/selector/selector.js'
import { killAndReap, startSocketHarness } from '../peercred/socket-harness.js'

const IDS = { uid: 4242, gid: 4242 }

t.test('real processes get the selectors of what they are', async (t) => {
  const h = await startSocketHarness(t)
  const held: PeerCredentials[] = []
  t.teardown(() => {
    for (const c of held) releasePeerCredentials(c)
  })
  const attestor = new WorkloadAttestor({ pidfdIsAlive })

  const childA = h.spawnClient('client-a.js', IDS) // relative to its cwd
  const credsA = readPeerCredentials(await h.nextConnection())
  held.push(credsA)
  const childB = h.spawnClient(join(h.dir, 'client-b.js'), IDS) // absolute
  const credsB = readPeerCredentials(await h.nextConnection())
  held.push(credsB)
  t.equal(credsA.pid, childA.pid)
  t.equal(credsB.pid, childB.pid)
  t.same([credsA.uid, credsA.gid], [4242, 4242])

  const a = await attestor.attest(credsA, { sha256: true })
  const b = await attestor.attest(credsB)
  const sa = a.selectors.map(formatSelector)
  const sb = b.selectors.map(formatSelector)
  const node = realpathSync(process.execPath)
  const scriptA = realpathSync(join(h.dir, 'client-a.js'))
  const scriptB = realpathSync(join(h.dir, 'client-b.js'))

  for (const s of ['unix:uid:4242', 'unix:gid:4242', `unix:path:${node}`]) {
    t.ok(sa.includes(s), s)
    t.ok(sb.includes(s), s)
  }
  t.notOk(
    sa.some((s) => s.startsWith('unix:user:')),
    'uid 4242 has no name here',
  )
  t.ok(sa.includes(`proc:script:${scriptA}`), `withheld: ${a.details.scriptWithheld}`)
  t.ok(sb.includes(`proc:script:${scriptB}`))
  t.notOk(sa.includes(`proc:script:${scriptB}`), 'different scripts, different selectors')
  t.notOk(sb.includes(`proc:script:${scriptA}`))

  const unified = /^0::(.*)$/m.exec(readFileSync(`/proc/${childA.pid}/cgroup`, 'utf8'))?.[1]
  t.ok(unified !== undefined && sa.includes(`proc:cgroup:${unified}`), `proc:cgroup:${unified}`)

  const expected = execFileSync('sha256sum', [node], { encoding: 'utf8' }).split(' ')[0]
  t.ok(sa.includes(`unix:sha256:${expected}`), 'unix:sha256 is the sha256 of the node binary')
  t.notOk(
    sb.some((s) => s.startsWith('unix:sha256:')),
    'not computed unless asked',
  )

  t.equal(a.pid, childA.pid)
  t.equal(a.startTime, readProcessStartTime(childA.pid!))
  t.equal(a.details.scriptPath, scriptA)
  t.equal(a.details.exePath, node)

  await killAndReap(childA)
  t.equal(readProcessStartTime(childA.pid!), undefined, 'an exited process has no start time')
  t.equal(pidfdIsAlive(credsA.pidfd!), false)
  await t.rejects(attestor.attest(credsA), { code: 'ERR_ATTESTATION_FAILED' }, 'an exited process is refused')
  t.ok((await attestor.attest(credsB)).selectors.length > 0, 'the other process is unaffected')
})
