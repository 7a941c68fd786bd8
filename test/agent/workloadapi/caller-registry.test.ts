// The caller registry on its own, with a scripted attestor: a connection stays bound to what its
// process was at the first attestation (credentials, executable), and a call after the process
// changed — an exec of a setuid binary, say — is refused and logged.
import t from 'tap'
import type { WorkloadProcess } from '../../../agent/cache/workload-process.js'
import type { PeerCredentials } from '../../../agent/peercred/peer-credentials.js'
import {
  type AttestedCaller,
  type CallerAttestor,
  CallerRegistry,
} from '../../../agent/workloadapi/caller-registry.js'
import type { ProcessFingerprint } from '../../../agent/workloadattestation/process-fingerprint.js'
import { SigilError } from '../../../certs/errors.js'

const ids = (n: number) => ({ real: n, effective: n, saved: n, filesystem: n })
const NOBODY: ProcessFingerprint = {
  uid: ids(65534),
  gid: ids(65534),
  groups: [],
  exe: { path: '/usr/bin/python3.11', dev: 2049, ino: 100 },
}

function setup(ttlMs = 0) {
  let next: AttestedCaller | Error = { pid: 42, startTime: 7, selectors: [], fingerprint: NOBODY }
  let calls = 0
  const warnings: Record<string, unknown>[] = []
  const attestor: CallerAttestor = {
    attest: async () => {
      calls++
      if (next instanceof Error) throw next
      return next
    },
  }
  const registry = new CallerRegistry({
    attestor,
    holder: { retain: (_p: WorkloadProcess) => () => {}, attestationWants: () => ({}) },
    procStartTime: () => 7,
    releasePeer: () => {},
    logger: { debug: () => {}, warn: (obj) => warnings.push(obj as Record<string, unknown>) },
    attestationTtlMs: ttlMs,
  })
  const peer: PeerCredentials = { pid: 42, uid: 65534, gid: 65534 }
  const key = registry.add(peer)
  return {
    registry,
    key,
    warnings,
    calls: () => calls,
    become: (fingerprint: Partial<ProcessFingerprint>) => {
      next = { pid: 42, startTime: 7, selectors: [], fingerprint: { ...NOBODY, ...fingerprint } }
    },
    fail: (err: Error) => {
      next = err
    },
  }
}

t.test('a process unchanged since it connected is served, attestation after attestation', async (t) => {
  const s = setup()
  t.equal((await s.registry.identify(s.key)).pid, 42)
  t.equal((await s.registry.identify(s.key)).pid, 42)
  t.equal(s.calls(), 2, 'attested each time (no reuse with a 0 ms reuse time)')
  t.same(s.warnings, [])
})

t.test('after an exec of another program (same uid), every later call is refused and logged', async (t) => {
  const s = setup()
  s.registry.prefetch(s.key)
  await s.registry.identify(s.key)
  s.become({ exe: { path: '/tmp/suid-sleep', dev: 2049, ino: 555 } })
  await t.rejects(s.registry.identify(s.key), {
    code: 'ERR_ATTESTATION_FAILED',
    message: /executed another program/,
  })
  t.equal(s.warnings.length, 1)
  t.equal(s.warnings[0]?.pid, 42)
  t.match(s.warnings[0]?.why, /changed since it connected: it executed another program/)
  s.become({})
  const before = s.calls()
  await t.rejects(s.registry.identify(s.key), { code: 'ERR_ATTESTATION_FAILED' }, 'still refused after')
  t.equal(s.calls(), before, 'without attesting again')
})

t.test('the same path with another file behind it (replaced binary) counts as another program', async (t) => {
  const s = setup()
  await s.registry.identify(s.key)
  s.become({ exe: { ...NOBODY.exe, ino: 101 } })
  await t.rejects(s.registry.identify(s.key), { code: 'ERR_ATTESTATION_FAILED' })
})

t.test('changed credentials are refused: uids, gids, supplementary groups', async (t) => {
  for (const [what, change, why] of [
    [
      'setuid root',
      { uid: { real: 65534, effective: 0, saved: 0, filesystem: 0 } },
      /uids changed from 65534\/65534\/65534\/65534 to 65534\/0\/0\/0/,
    ],
    ['setgid', { gid: { real: 65534, effective: 42, saved: 42, filesystem: 42 } }, /gids changed/],
    ['groups', { groups: [27] }, /supplementary groups changed/],
  ] as const) {
    const s = setup()
    await s.registry.identify(s.key)
    s.become(change)
    await t.rejects(s.registry.identify(s.key), { code: 'ERR_ATTESTATION_FAILED', message: why }, what)
  }
})

t.test('a failed attestation is logged with the pid and why, and can be retried', async (t) => {
  const s = setup()
  s.fail(
    new SigilError('ERR_ATTESTATION_FAILED', 'process 42: its effective uid is 0, it connected as uid 65534'),
  )
  await t.rejects(s.registry.identify(s.key), { code: 'ERR_ATTESTATION_FAILED' })
  t.same(s.warnings, [{ pid: 42, why: 'process 42: its effective uid is 0, it connected as uid 65534' }])
  s.become({})
  t.equal((await s.registry.identify(s.key)).pid, 42, 'the first successful attestation is the baseline')
  s.become({ uid: ids(0) })
  await t.rejects(s.registry.identify(s.key), { code: 'ERR_ATTESTATION_FAILED' })
})

t.test('within the reuse time the attestation of the process as it connected is reused', async (t) => {
  const s = setup(600_000)
  await s.registry.identify(s.key)
  s.become({ uid: ids(0) })
  const p = await s.registry.identify(s.key)
  t.equal(p.pid, 42)
  t.equal(s.calls(), 1, 'not attested again: the cached, connect-time identity is what is served')
})
