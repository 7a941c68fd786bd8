import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseCgroupMembership } from '../../../agent/workloadattestation/cgroup-membership.js'
import { parseProcStatus } from '../../../agent/workloadattestation/proc-status.js'
import {
  parseStartTime,
  readProcessStartTime,
} from '../../../agent/workloadattestation/process-start-time.js'
import { statLine } from './fake-proc.js'

t.test('status: real/effective/saved/fs IDs and supplementary groups', async (t) => {
  const s = parseProcStatus(
    'Name:\tx\nUid:\t1000\t2000\t3000\t4000\nGid:\t10\t20\t30\t40\nGroups:\t27 100 \n',
  )
  t.same(s.uid, { real: 1000, effective: 2000, saved: 3000, filesystem: 4000 })
  t.same(s.gid, { real: 10, effective: 20, saved: 30, filesystem: 40 })
  t.same(s.groups, [27, 100])
  t.same(parseProcStatus('Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n').groups, [])
  t.same(parseProcStatus('Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n').groups, [])
})

t.test('status: missing or malformed ID lines are refused', async (t) => {
  for (const bad of [
    '',
    'Gid:\t0\t0\t0\t0\n',
    'Uid:\t0\t0\t0\nGid:\t0\t0\t0\t0\n',
    'Uid:\t0\t-1\t0\t0\nGid:\t0\t0\t0\t0\n',
    'Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t1 x\n',
    'Uid:\t0\t0\t0\t99999999999\nGid:\t0\t0\t0\t0\n',
  ]) {
    t.throws(() => parseProcStatus(bad), { code: 'ERR_ATTESTATION_FAILED' }, JSON.stringify(bad))
  }
})

t.test('stat: start time is field 22, counted after the last ")"', async (t) => {
  t.equal(parseStartTime(statLine(42, 'node', 987654)), 987654)
  t.equal(parseStartTime(statLine(42, 'a) (b c) S 1 2', 55)), 55, 'a hostile comm does not shift fields')
  t.throws(() => parseStartTime('42 (node) S 1'), { code: 'ERR_ATTESTATION_FAILED' })
  t.throws(() => parseStartTime('garbage'), { code: 'ERR_ATTESTATION_FAILED' })
})

t.test('readProcessStartTime: a number, undefined when gone, the real one for ourselves', async (t) => {
  const proc = t.testdir()
  mkdirSync(join(proc, '7'))
  writeFileSync(join(proc, '7', 'stat'), statLine(7, 'x', 31337))
  t.equal(readProcessStartTime(7, proc), 31337)
  t.equal(readProcessStartTime(8, proc), undefined)
  mkdirSync(join(proc, '9'))
  writeFileSync(join(proc, '9', 'stat'), 'nonsense')
  t.throws(() => readProcessStartTime(9, proc), { code: 'ERR_ATTESTATION_FAILED' })
  t.throws(() => readProcessStartTime(0, proc), TypeError)
  const mine = readProcessStartTime(process.pid)
  t.type(mine, 'number')
  t.equal(readProcessStartTime(process.pid), mine, 'stable for a live process')
})

t.test('cgroup v2: the 0:: line is the path', async (t) => {
  const m = parseCgroupMembership('0::/system.slice/app.service\n')
  t.equal(m.path, '/system.slice/app.service')
  t.same(m.v1, [])
})

t.test('cgroup v1: hierarchies kept; the name=systemd path stands in for the unified one', async (t) => {
  const m = parseCgroupMembership(
    '4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/system.slice/docker-abc.scope\n',
  )
  t.equal(m.path, '/system.slice/docker-abc.scope')
  t.same(m.v1, [
    { controllers: 'memory', path: '/docker/abc' },
    { controllers: 'cpu,cpuacct', path: '/docker/abc' },
    { controllers: 'name=systemd', path: '/system.slice/docker-abc.scope' },
  ])
  t.equal(parseCgroupMembership('4:memory:/x\n').path, undefined)
})

t.test('cgroup hybrid: the unified line wins; paths may contain ":"', async (t) => {
  const m = parseCgroupMembership('1:name=systemd:/user.slice\n0::/user.slice/a:b.scope\n')
  t.equal(m.path, '/user.slice/a:b.scope')
  t.equal(m.v1.length, 1)
  t.throws(() => parseCgroupMembership('garbage\n'), { code: 'ERR_ATTESTATION_FAILED' })
  t.throws(() => parseCgroupMembership('0::relative\n'), { code: 'ERR_ATTESTATION_FAILED' })
})
