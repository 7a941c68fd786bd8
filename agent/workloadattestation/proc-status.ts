/**
 * The identity lines of `/proc/<pid>/status`: `Uid:` and `Gid:` (real, effective, saved set,
 * filesystem) and `Groups:` (supplementary group IDs).
 */
import { SigilError } from '../../certs/errors.js'

/** Real, effective, saved-set and filesystem IDs, in the order the kernel prints them. */
export interface IdQuad {
  readonly real: number
  readonly effective: number
  readonly saved: number
  readonly filesystem: number
}

/** What {@link parseProcStatus} extracts. */
export interface ProcStatus {
  readonly uid: IdQuad
  readonly gid: IdQuad
  readonly groups: readonly number[]
}

function ids(line: string | undefined, what: string): number[] {
  if (line === undefined) return []
  const parts = line.trim() === '' ? [] : line.trim().split(/\s+/)
  return parts.map((p) => {
    if (!/^\d{1,10}$/.test(p) || Number(p) > 0xffffffff) {
      throw new SigilError('ERR_ATTESTATION_FAILED', `process status: bad ${what} "${p.slice(0, 20)}"`)
    }
    return Number(p)
  })
}

function quad(line: string | undefined, what: string): IdQuad {
  const [real, effective, saved, filesystem] = ids(line, what)
  if (real === undefined || effective === undefined || saved === undefined || filesystem === undefined) {
    throw new SigilError('ERR_ATTESTATION_FAILED', `process status: no complete ${what} line`)
  }
  return { real, effective, saved, filesystem }
}

/**
 * Parses the text of `/proc/<pid>/status`. Throws `ERR_ATTESTATION_FAILED` when the `Uid:` or
 * `Gid:` line is missing or malformed; a missing `Groups:` line means no supplementary groups.
 *
 * @example
 * parseProcStatus('Uid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nGroups:\t27 100\n')
 * // { uid: { real: 1000, effective: 1000, ... }, gid: { ... }, groups: [27, 100] }
 */
export function parseProcStatus(text: string): ProcStatus {
  const lines = new Map<string, string>()
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) {
      const key = line.slice(0, colon)
      if (!lines.has(key)) lines.set(key, line.slice(colon + 1))
    }
  }
  return {
    uid: quad(lines.get('Uid'), 'Uid'),
    gid: quad(lines.get('Gid'), 'Gid'),
    groups: ids(lines.get('Groups'), 'Groups'),
  }
}
