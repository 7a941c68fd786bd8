/**
 * Which control groups a process is in, from `/proc/<pid>/cgroup`: systemd units, slices and
 * container runtimes put each service or container in its own cgroup, which makes the cgroup path
 * a good selector for them. Paths are as seen from the agent's cgroup namespace.
 */
import { SigilError } from '../../certs/errors.js'

/** One cgroup v1 hierarchy membership: its controllers (`memory`, `cpu,cpuacct`, `name=systemd`) and path. */
export interface CgroupV1Membership {
  readonly controllers: string
  readonly path: string
}

/** What {@link parseCgroupMembership} extracts. */
export interface CgroupMembership {
  /**
   * The process's cgroup path: the unified (v2) hierarchy's `0::<path>` line; on a pure cgroup v1
   * host, the `name=systemd` hierarchy's path (where systemd tracks units there); else undefined.
   */
  readonly path: string | undefined
  /** Every cgroup v1 line, hierarchy kept (empty on a pure cgroup v2 host). */
  readonly v1: readonly CgroupV1Membership[]
}

/**
 * Parses the text of `/proc/<pid>/cgroup` (`hierarchy-id:controllers:path` per line). Throws
 * `ERR_ATTESTATION_FAILED` on a malformed line.
 *
 * @example
 * parseCgroupMembership('0::/system.slice/app.service\n').path // '/system.slice/app.service'
 */
export function parseCgroupMembership(text: string): CgroupMembership {
  let unified: string | undefined
  const v1: CgroupV1Membership[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const first = line.indexOf(':')
    const second = first < 0 ? -1 : line.indexOf(':', first + 1)
    const id = line.slice(0, first)
    const path = line.slice(second + 1)
    if (second < 0 || !/^\d+$/.test(id) || !path.startsWith('/')) {
      throw new SigilError('ERR_ATTESTATION_FAILED', `process cgroup: malformed line "${line.slice(0, 80)}"`)
    }
    const controllers = line.slice(first + 1, second)
    if (id === '0' && controllers === '') unified = path
    else v1.push({ controllers, path })
  }
  const path = unified ?? v1.find((m) => m.controllers.split(',').includes('name=systemd'))?.path
  return { path, v1 }
}
