/**
 * Where the agent's Authorize decision point gets its policy set. The seam is one method: the
 * agent's policy holder (the policy set pushed by the server) implements it; a
 * `--policy-file` (development and tests only) is the other implementation.
 */
import { readFile } from 'node:fs/promises'
import { SigilError } from '../../certs/errors.js'
import { CompiledPolicySet, PolicyError } from '../../common/policy/policy-engine.js'

/** The policy set in force now, or undefined when there is none. */
export interface AgentPolicySource {
  current(): CompiledPolicySet | undefined
}

/**
 * A policy set read once from a file (`--policy-file`, development and tests only: the server's
 * policy store is the real source). Rejects `ERR_CONFIG_INVALID` naming the first problem's
 * line and column.
 *
 * @example
 * const source = await loadPolicyFile('/etc/sigil/dev.cedar')
 * source.current()?.policyIds
 */
export async function loadPolicyFile(path: string): Promise<AgentPolicySource> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new SigilError('ERR_CONFIG_INVALID', `policy-file: cannot read ${path}`, { cause })
  }
  try {
    const set = CompiledPolicySet.compile(text, 0)
    return { current: () => set }
  } catch (cause) {
    if (!(cause instanceof PolicyError)) throw cause
    const p = cause.problems[0]
    const at =
      p?.line !== undefined ? ` at line ${p.line}${p.column !== undefined ? `, column ${p.column}` : ''}` : ''
    throw new SigilError('ERR_CONFIG_INVALID', `policy-file: ${path}${at}: ${p?.message ?? cause.message}`, {
      cause,
    })
  }
}
