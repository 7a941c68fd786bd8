import { createHash } from 'node:crypto'
import { appendFileSync, chownSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { FileDigestCache } from '../../../agent/workloadattestation/file-digest-cache.js'
import type { UserDirectory } from '../../../agent/workloadattestation/user-directory.js'
import { WorkloadAttestor } from '../../../agent/workloadattestation/workload-attestor.js'
import { formatSelector } from '../../../certs/selector/selector.js'
import { type FakeProcess, setStartTime, writeFakeProcess } from './fake-proc.js'

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex')

const names: UserDirectory = {
  userName: (uid) => ({ 0: 'root', 1000: 'alice', 2000: 'svc' })[uid],
  groupName: (gid) => ({ 0: 'root', 27: 'sudo', 100: 'users', 1000: 'alice' })[gid],
}

/** A fake /proc plus a fake filesystem: bin/node, app/main.js, app/link.js -> main.js. */
function setup(test: Pick<typeof t, 'testdir'>) {
  const root = test.testdir({
    bin: { node: 'NODE-BINARY', python3: 'PYTHON-BINARY' },
    app: { 'main.js': 'console.log(1)', 'other.js': 'console.log(2)', sub: {} },
    proc: {},
  })
  symlinkSync(join(root, 'app', 'main.js'), join(root, 'app', 'link.js'))
  const proc = join(root, 'proc')
  const node = join(root, 'bin', 'node')
  const add = (p: Partial<FakeProcess> & { pid: number }) =>
    writeFakeProcess(proc, { exe: node, cmdline: ['node'], cwd: join(root, 'app'), ...p })
  return { root, proc, node, add }
}

const strings = (r: { selectors: readonly { type: string; value: string }[] }) =>
  r.selectors.map(formatSelector)

t.test('unix selectors: effective uid/gid, names, supplementary groups, path', async (t) => {
  const { proc, node, add } = setup(t)
  add({ pid: 10, uid: [1000, 2000, 2000, 2000], gid: [1000, 100, 100, 100], groups: [27, 100, 555] })
  const r = await new WorkloadAttestor({ procRoot: proc, users: names }).attest({ pid: 10 })
  t.same(strings(r).slice(0, 9), [
    'unix:uid:2000',
    'unix:user:svc',
    'unix:gid:100',
    'unix:group:users',
    'unix:supplementary_gid:27',
    'unix:supplementary_group:sudo',
    'unix:supplementary_gid:100',
    'unix:supplementary_group:users',
    'unix:supplementary_gid:555',
  ])
  t.ok(strings(r).includes(`unix:path:${node}`))
  t.equal(r.pid, 10)
  t.equal(r.startTime, 1000)
  t.same(r.details, { uid: 2000, gid: 100, exePath: node, cgroupPath: '/system.slice/app.service' })
})

t.test('an ID without a name yields no name selector', async (t) => {
  const { proc, add } = setup(t)
  add({ pid: 11, uid: 4242, gid: 4242 })
  const r = strings(await new WorkloadAttestor({ procRoot: proc, users: names }).attest({ pid: 11 }))
  t.ok(r.includes('unix:uid:4242') && r.includes('unix:gid:4242'))
  t.notOk(r.some((s) => s.startsWith('unix:user:') || s.startsWith('unix:group:')))
})

t.test('entry script: resolved against cwd, symlinks resolved, only regular files', async (t) => {
  const { root, proc, add } = setup(t)
  const main = join(root, 'app', 'main.js')
  const attestor = new WorkloadAttestor({ procRoot: proc, users: names })
  const scriptOf = async (cmdline: string[], cwd = join(root, 'app')) => {
    add({ pid: 20, cmdline, cwd })
    return strings(await attestor.attest({ pid: 20 })).filter((s) => s.startsWith('proc:script'))
  }
  t.same(await scriptOf(['node', 'main.js']), [`proc:script:${main}`], 'relative to cwd')
  t.same(await scriptOf(['node', '../main.js'], join(root, 'app', 'sub')), [`proc:script:${main}`])
  t.same(await scriptOf(['node', '--enable-source-maps', main]), [`proc:script:${main}`], 'absolute')
  t.same(await scriptOf(['node', 'link.js']), [`proc:script:${main}`], 'symlink resolved')
  t.same(await scriptOf(['node', 'other.js']), [`proc:script:${join(root, 'app', 'other.js')}`])
  t.same(await scriptOf(['node', 'missing.js']), [], 'missing file: no selector')
  t.same(await scriptOf(['node', 'sub']), [], 'directory: no selector')
  t.same(await scriptOf(['node', '-e', 'main.js']), [], 'inline code: no selector')
  t.same(await scriptOf(['node']), [])
})

t.test('entry script: omitted when the process sees another file at that path', async (t) => {
  const { root, proc, add } = setup(t)
  // The process's root is another directory tree holding its own copy of <root>/app/main.js.
  const otherRoot = join(root, 'container')
  mkdirSync(join(otherRoot, root, 'app'), { recursive: true })
  writeFileSync(join(otherRoot, root, 'app', 'main.js'), 'different')
  add({ pid: 21, cmdline: ['node', join(root, 'app', 'main.js')], root: otherRoot })
  const r = await new WorkloadAttestor({ procRoot: proc, users: names }).attest({ pid: 21 })
  t.notOk(strings(r).some((s) => s.startsWith('proc:script')))
  t.equal(r.details.scriptPath, undefined)
})

t.test('python: script and -m module', async (t) => {
  const { root, proc, add } = setup(t)
  writeFileSync(join(root, 'app', 'srv.py'), 'print(1)')
  const python = join(root, 'bin', 'python3')
  const attestor = new WorkloadAttestor({ procRoot: proc, users: names })
  add({ pid: 30, exe: python, cmdline: ['python3', '-u', '-X', 'dev', 'srv.py'] })
  t.ok(strings(await attestor.attest({ pid: 30 })).includes(`proc:script:${join(root, 'app', 'srv.py')}`))
  add({ pid: 31, exe: python, cmdline: ['python3', '-m', 'http.server'] })
  const r = await attestor.attest({ pid: 31 })
  t.ok(strings(r).includes('proc:module:http.server'))
  t.equal(r.details.module, 'http.server')
})

t.test('cgroup selectors for v2, v1 and hybrid hosts', async (t) => {
  const { proc, add } = setup(t)
  const attestor = new WorkloadAttestor({ procRoot: proc, users: names })
  const cgroups = async (cgroup: string) => {
    add({ pid: 40, cgroup })
    return strings(await attestor.attest({ pid: 40 })).filter((s) => s.startsWith('proc:cgroup'))
  }
  t.same(await cgroups('0::/system.slice/a.service\n'), ['proc:cgroup:/system.slice/a.service'])
  t.same(await cgroups('2:memory:/docker/abc\n1:name=systemd:/system.slice/docker-abc.scope\n'), [
    'proc:cgroup:/system.slice/docker-abc.scope',
    'proc:cgroup_v1:memory:/docker/abc',
    'proc:cgroup_v1:name=systemd:/system.slice/docker-abc.scope',
  ])
  t.same(await cgroups('1:name=systemd:/\n0::/user.slice/x.scope\n'), [
    'proc:cgroup:/user.slice/x.scope',
    'proc:cgroup_v1:name=systemd:/',
  ])
})

t.test('sha256 selectors only on request, and cached', async (t) => {
  const { root, node, proc, add } = setup(t)
  add({ pid: 50, cmdline: ['node', 'main.js'] })
  const digests = new FileDigestCache()
  const attestor = new WorkloadAttestor({ procRoot: proc, users: names, digests })
  const plain = strings(await attestor.attest({ pid: 50 }))
  t.notOk(
    plain.some((s) => /^(unix:sha256|proc:script_sha256):/.test(s)),
    'not computed unless asked',
  )
  t.equal(digests.stats.computed, 0)

  const a = strings(await attestor.attest({ pid: 50 }, { sha256: true }))
  t.ok(a.includes(`unix:sha256:${sha256('NODE-BINARY')}`))
  t.notOk(a.some((s) => s.startsWith('proc:script_sha256')))
  const b = strings(await attestor.attest({ pid: 50 }, { sha256: true, scriptSha256: true }))
  t.ok(b.includes(`unix:sha256:${sha256('NODE-BINARY')}`))
  t.ok(b.includes(`proc:script_sha256:${sha256('console.log(1)')}`))
  t.same(digests.stats, { hits: 1, computed: 2 }, 'the executable was hashed once')

  appendFileSync(node, '-v2')
  const c = strings(await attestor.attest({ pid: 50 }, { sha256: true }))
  t.ok(c.includes(`unix:sha256:${sha256('NODE-BINARY-v2')}`), 'a rewritten executable is hashed again')
  t.equal(digests.stats.computed, 3)
  t.ok(root)
})

t.test('PID reuse: a start time that changes during attestation is refused', async (t) => {
  const { proc, add } = setup(t)
  add({ pid: 60, startTime: 5000 })
  let reuse = true
  const racing: UserDirectory = {
    userName: (uid) => {
      if (reuse) setStartTime(proc, 60, 5001) // the process exits and its PID is reused meanwhile
      return names.userName(uid)
    },
    groupName: names.groupName,
  }
  const attestor = new WorkloadAttestor({ procRoot: proc, users: racing })
  await t.rejects(attestor.attest({ pid: 60 }), { code: 'ERR_ATTESTATION_FAILED' })
  reuse = false
  const r = await attestor.attest({ pid: 60 })
  t.equal(r.startTime, 5001, 'attests fine once stable')
})

t.test('a process that vanishes, is missing, or has unreadable /proc entries is refused', async (t) => {
  const { proc, add } = setup(t)
  const dir = add({ pid: 70 })
  const vanishing: UserDirectory = {
    userName: () => {
      rmSync(dir, { recursive: true, force: true })
      return undefined
    },
    groupName: () => undefined,
  }
  await t.rejects(new WorkloadAttestor({ procRoot: proc, users: vanishing }).attest({ pid: 70 }), {
    code: 'ERR_ATTESTATION_FAILED',
  })
  const attestor = new WorkloadAttestor({ procRoot: proc, users: names })
  await t.rejects(attestor.attest({ pid: 71 }), { code: 'ERR_ATTESTATION_FAILED' }, 'no such process')

  const broken = add({ pid: 72 })
  rmSync(join(broken, 'exe'))
  await t.rejects(attestor.attest({ pid: 72 }), { code: 'ERR_ATTESTATION_FAILED' }, 'no exe link')
  add({ pid: 73 })
  writeFileSync(join(proc, '73', 'status'), 'Name:\tx\n')
  await t.rejects(attestor.attest({ pid: 73 }), { code: 'ERR_ATTESTATION_FAILED' }, 'no Uid line')
  add({ pid: 74 })
  writeFileSync(join(proc, '74', 'cgroup'), 'junk\n')
  await t.rejects(attestor.attest({ pid: 74 }), { code: 'ERR_ATTESTATION_FAILED' }, 'bad cgroup')
  add({ pid: 75, cmdline: ['node', 'main.js'] })
  rmSync(join(proc, '75', 'cwd'))
  await t.rejects(attestor.attest({ pid: 75 }), { code: 'ERR_ATTESTATION_FAILED' }, 'no cwd link')
  await t.rejects(attestor.attest({ pid: 0 }), TypeError)
  await t.rejects(attestor.attest({ pid: 1.5 }), TypeError)
})

t.test('pidfd: the process must still be alive after /proc was read', async (t) => {
  const { proc, add } = setup(t)
  add({ pid: 80 })
  const seen: number[] = []
  let alive = true
  const attestor = new WorkloadAttestor({
    procRoot: proc,
    users: names,
    pidfdIsAlive: (fd) => {
      seen.push(fd)
      return alive
    },
  })
  t.equal((await attestor.attest({ pid: 80, pidfd: 33 })).pid, 80)
  alive = false
  await t.rejects(attestor.attest({ pid: 80, pidfd: 33 }), { code: 'ERR_ATTESTATION_FAILED' })
  t.same(seen, [33, 33])
  const throwing = new WorkloadAttestor({
    procRoot: proc,
    users: names,
    pidfdIsAlive: () => {
      throw new Error('EBADF')
    },
  })
  await t.rejects(throwing.attest({ pid: 80, pidfd: 33 }), { code: 'ERR_ATTESTATION_FAILED' })
  await t.rejects(new WorkloadAttestor({ procRoot: proc }).attest({ pid: 80, pidfd: 3 }), TypeError)
})

t.test('values that cannot be selector strings are left out, never passed on', async (t) => {
  const { root, proc, add } = setup(t)
  const odd = join(root, 'bin', 'no\nde')
  writeFileSync(odd, 'x')
  add({ pid: 90, exe: odd, cgroup: `0::/${'x'.repeat(1100)}\n` })
  const r = strings(await new WorkloadAttestor({ procRoot: proc, users: names }).attest({ pid: 90 }))
  t.notOk(r.some((s) => s.startsWith('unix:path:') || s.startsWith('proc:cgroup:')))
  t.ok(r.includes('unix:uid:1000'))
})

t.test(
  'no script or module selector when other code is preloaded or the environment is unreadable',
  async (t) => {
    const { root, proc, add } = setup(t)
    const main = join(root, 'app', 'main.js')
    const python = join(root, 'bin', 'python3')
    const attestor = new WorkloadAttestor({ procRoot: proc, users: names })
    const proc20 = async (p: Parameters<typeof add>[0]) => {
      add(p)
      return attestor.attest({ pid: p.pid }, { scriptSha256: true })
    }
    const plain = await proc20({ pid: 20, cmdline: ['node', main], environ: ['NODE_ENV=production'] })
    t.ok(strings(plain).includes(`proc:script:${main}`), 'control: a plain run has its script')

    const cases: [string, Parameters<typeof add>[0]][] = [
      [
        'NODE_OPTIONS --import',
        { pid: 20, cmdline: ['node', main], environ: ['NODE_OPTIONS=--import=/tmp/e.mjs'] },
      ],
      ['argv --require', { pid: 20, cmdline: ['node', '--require', '/tmp/e.js', main] }],
      ['LD_PRELOAD', { pid: 20, cmdline: ['node', main], environ: ['LD_PRELOAD=/tmp/e.so'] }],
      ['unreadable environ', { pid: 20, cmdline: ['node', main], environ: null }],
      [
        'python PYTHONPATH',
        { pid: 20, exe: python, cmdline: ['python3', '-m', 'http.server'], environ: ['PYTHONPATH=/tmp'] },
      ],
    ]
    for (const [what, p] of cases) {
      const r = await proc20(p)
      t.notOk(
        strings(r).some((s) => s.startsWith('proc:script') || s.startsWith('proc:module')),
        `${what}: no proc:script, proc:script_sha256 or proc:module`,
      )
      t.type(r.details.scriptWithheld, 'string', `${what}: the reason is in the details`)
      t.ok(
        strings(r).includes('unix:uid:1000') && strings(r).some((s) => s.startsWith('proc:cgroup:')),
        `${what}: other selectors stay`,
      )
    }
  },
)

t.test(
  'with SO_PEERCRED ids: /proc must agree with them; the fingerprint names credentials and executable',
  { skip: process.getuid?.() === 0 ? false : 'needs root: the fake /proc entries are chowned to other uids' },
  async (t) => {
    const { proc, node, add } = setup(t)
    const attestor = new WorkloadAttestor({ procRoot: proc, users: names })
    const dir = add({ pid: 100, uid: [1000, 1000, 1000, 1000], gid: [100, 100, 100, 100], groups: [27] })
    await t.rejects(
      attestor.attest({ pid: 100, uid: 1000, gid: 100 }),
      { code: 'ERR_ATTESTATION_FAILED', message: /belongs to 0:0/ },
      'a /proc entry owned by root (not dumpable, or a privileged exec) is refused',
    )
    chownSync(dir, 1000, 100)
    const r = await attestor.attest({ pid: 100, uid: 1000, gid: 100 })
    t.ok(strings(r).includes('unix:uid:1000') && strings(r).includes('unix:gid:100'))
    const exe = statSync(node)
    t.same(r.fingerprint, {
      uid: { real: 1000, effective: 1000, saved: 1000, filesystem: 1000 },
      gid: { real: 100, effective: 100, saved: 100, filesystem: 100 },
      groups: [27],
      exe: { path: node, dev: exe.dev, ino: exe.ino },
    })
    await t.rejects(attestor.attest({ pid: 100, uid: 2000, gid: 100 }), {
      code: 'ERR_ATTESTATION_FAILED',
      message: /effective uid is 1000, it connected as uid 2000/,
    })
    await t.rejects(attestor.attest({ pid: 100, uid: 1000, gid: 7 }), {
      code: 'ERR_ATTESTATION_FAILED',
      message: /effective gid is 100, it connected as gid 7/,
    })
    // A setuid-root exec: effective uid 0, real uid 1000.
    const suid = add({ pid: 101, uid: [1000, 0, 0, 0], gid: 100 })
    chownSync(suid, 0, 100)
    await t.rejects(attestor.attest({ pid: 101, uid: 1000, gid: 100 }), {
      code: 'ERR_ATTESTATION_FAILED',
      message: /effective uid is 0, it connected as uid 1000/,
    })
  },
)
