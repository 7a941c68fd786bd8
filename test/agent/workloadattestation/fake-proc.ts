// Builds small fake /proc trees for the workload attestor's unit tests.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface FakeProcess {
  pid: number
  startTime?: number
  comm?: string
  /** Real, effective, saved, filesystem (a single number means all four). */
  uid?: number | [number, number, number, number]
  gid?: number | [number, number, number, number]
  groups?: number[]
  /** Target of the exe link. */
  exe: string
  cmdline: string[]
  /** Target of the cwd link. */
  cwd?: string
  /** Target of the root link (default '/'). */
  root?: string
  cgroup?: string
  /** The initial environment, `NAME=value` each (default empty); `null`: no environ file. */
  environ?: string[] | null
}

/** A stat line with `startTime` in field 22; the comm may hold spaces and parentheses. */
export function statLine(pid: number, comm: string, startTime: number): string {
  const rest = [
    'S',
    1,
    pid,
    pid,
    0,
    -1,
    4194560,
    100,
    0,
    0,
    0,
    1,
    2,
    0,
    0,
    20,
    0,
    1,
    0,
    startTime,
    123456,
    789,
  ]
  return `${pid} (${comm}) ${rest.join(' ')} 18446744073709551615 1 1 0 0 0 0 0\n`
}

function quad(v: number | [number, number, number, number]): string {
  return (typeof v === 'number' ? [v, v, v, v] : v).join('\t')
}

/** Writes /proc/<pid>/{stat,status,exe,cmdline,cwd,root,cgroup,environ} under `procRoot`. */
export function writeFakeProcess(procRoot: string, p: FakeProcess): string {
  const dir = join(procRoot, String(p.pid))
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'stat'), statLine(p.pid, p.comm ?? 'node', p.startTime ?? 1000))
  writeFileSync(
    join(dir, 'status'),
    [
      `Name:\t${p.comm ?? 'node'}`,
      'State:\tS (sleeping)',
      `Tgid:\t${p.pid}`,
      `Pid:\t${p.pid}`,
      `Uid:\t${quad(p.uid ?? 1000)}`,
      `Gid:\t${quad(p.gid ?? 1000)}`,
      'FDSize:\t64',
      `Groups:\t${(p.groups ?? []).join(' ')}${(p.groups ?? []).length > 0 ? ' ' : ''}`,
      'VmRSS:\t1000 kB',
      '',
    ].join('\n'),
  )
  symlinkSync(p.exe, join(dir, 'exe'))
  writeFileSync(join(dir, 'cmdline'), `${p.cmdline.join('\0')}\0`)
  if (p.cwd !== undefined) symlinkSync(p.cwd, join(dir, 'cwd'))
  symlinkSync(p.root ?? '/', join(dir, 'root'))
  writeFileSync(join(dir, 'cgroup'), p.cgroup ?? '0::/system.slice/app.service\n')
  const environ = p.environ === undefined ? [] : p.environ
  if (environ !== null) writeFileSync(join(dir, 'environ'), environ.map((v) => `${v}\0`).join(''))
  return dir
}

/** Rewrites the stat file of a fake process with a new start time (as if its PID were reused). */
export function setStartTime(procRoot: string, pid: number, startTime: number): void {
  writeFileSync(join(procRoot, String(pid), 'stat'), statLine(pid, 'other', startTime))
}
