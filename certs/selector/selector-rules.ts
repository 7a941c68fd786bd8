/**
 * The value rules of every selector Sigil's attestors emit, in one table: a selector an
 * entry may carry must be one of these kinds, with a value of the kind's shape, or it could
 * never match (the agent and the x509pop attestor only ever emit these). The admin API and
 * the datastore refuse anything else with `ERR_SELECTOR_INVALID`, naming the rule broken.
 *
 * Trust: these are shape rules on operator input; they say nothing about which selectors
 * are strong enough to identify a workload (see `isCallerAnchored`).
 */
import { SigilError } from '../errors.js'
import { echo } from '../lib/echo.js'
import { formatSelector, type Selector } from './selector.js'

/** One selector kind: its `type:key` prefix and the rule its value follows. */
export interface SelectorRule {
  /** `type:key` (the key may itself contain `:`, e.g. `x509pop:subject:cn`). */
  readonly kind: string
  /** What the value must be, in words (part of the error message). */
  readonly rule: string
  /** True when `value` (the part after `type:key:`) follows the rule. */
  readonly accepts: (value: string) => boolean
  /** Whether the kernel vouches for it as WHO runs the process (uid, gid, user, group). */
  readonly namesCaller?: true
}

/** Largest uid/gid: 2^32 - 2 (2^32 - 1 is the kernel's "no id"). */
export const MAX_UNIX_ID = 4_294_967_294
/** Longest path value accepted (PATH_MAX). */
export const MAX_SELECTOR_PATH_BYTES = 4096

const ID_RULE = 'a decimal id 0..4294967294 (no sign, no leading zeros)'
const NAME_RULE =
  'a user or group name: letters, digits, ".", "_", "-" or "@", not starting with "-", an optional final "$", at most 256 characters'
const PATH_RULE = 'an absolute, normalized path (no "//", "." or ".." segments, no trailing "/")'
const SHA256_RULE = '64 lowercase hex digits (a SHA-256)'

const isUnixId = (v: string): boolean => /^(0|[1-9][0-9]{0,9})$/.test(v) && Number(v) <= MAX_UNIX_ID
const isName = (v: string): boolean => v.length <= 256 && /^[A-Za-z0-9_.@][A-Za-z0-9_.@-]*\$?$/.test(v)
const isSha256 = (v: string): boolean => /^[0-9a-f]{64}$/.test(v)

/** True when `v` is an absolute path in normal form (what `/proc` and `realpath` give). */
export function isNormalizedAbsolutePath(v: string): boolean {
  if (!v.startsWith('/') || Buffer.byteLength(v) > MAX_SELECTOR_PATH_BYTES) return false
  if (v === '/') return true
  if (v.endsWith('/')) return false
  return v
    .slice(1)
    .split('/')
    .every((segment) => segment !== '' && segment !== '.' && segment !== '..')
}

/** The known selector kinds, longest prefix first within a type. */
export const SELECTOR_RULES: readonly SelectorRule[] = [
  { kind: 'unix:uid', rule: ID_RULE, accepts: isUnixId, namesCaller: true },
  { kind: 'unix:gid', rule: ID_RULE, accepts: isUnixId, namesCaller: true },
  { kind: 'unix:supplementary_gid', rule: ID_RULE, accepts: isUnixId, namesCaller: true },
  { kind: 'unix:user', rule: NAME_RULE, accepts: isName, namesCaller: true },
  { kind: 'unix:group', rule: NAME_RULE, accepts: isName, namesCaller: true },
  { kind: 'unix:supplementary_group', rule: NAME_RULE, accepts: isName, namesCaller: true },
  { kind: 'unix:path', rule: PATH_RULE, accepts: isNormalizedAbsolutePath },
  { kind: 'unix:sha256', rule: SHA256_RULE, accepts: isSha256 },
  { kind: 'proc:script', rule: PATH_RULE, accepts: isNormalizedAbsolutePath },
  { kind: 'proc:script_sha256', rule: SHA256_RULE, accepts: isSha256 },
  {
    kind: 'proc:module',
    rule: 'a Python module name: dot-separated identifiers, e.g. http.server',
    accepts: (v) => v.length <= 1024 && /^[\p{L}_][\p{L}\p{N}_]*(\.[\p{L}_][\p{L}\p{N}_]*)*$/u.test(v),
  },
  { kind: 'proc:cgroup', rule: PATH_RULE, accepts: isNormalizedAbsolutePath },
  {
    kind: 'proc:cgroup_v1',
    rule: '<controllers>:<path>: controllers of a-z, 0-9, ",", "=", "_", "." or "-", then an absolute, normalized path',
    accepts: (v) => {
      const colon = v.indexOf(':')
      return (
        colon >= 0 &&
        /^[a-z0-9,=_.-]*$/.test(v.slice(0, colon)) &&
        isNormalizedAbsolutePath(v.slice(colon + 1))
      )
    },
  },
  {
    kind: 'x509pop:subject:cn',
    rule: 'a certificate common name (at most 1000 bytes)',
    accepts: (v) => v !== '' && Buffer.byteLength(v) <= 1000,
  },
  { kind: 'x509pop:ca:fingerprint', rule: SHA256_RULE, accepts: isSha256 },
  {
    kind: 'x509pop:san:dns',
    rule: 'a DNS name: letters, digits, ".", "-", "_" or "*", at most 253 characters',
    accepts: (v) => v.length <= 253 && /^[A-Za-z0-9_*-]+(\.[A-Za-z0-9_*-]+)*$/.test(v),
  },
  {
    kind: 'x509pop:serialnumber',
    rule: 'a certificate serial number in lowercase hex (as DER encodes it)',
    accepts: (v) => /^[0-9a-f]{1,128}$/.test(v),
  },
]

/** The selector types Sigil knows (`unix`, `proc`, `x509pop`). */
export const SELECTOR_TYPES: readonly string[] = [
  ...new Set(SELECTOR_RULES.map((r) => r.kind.split(':')[0]!)),
]

/** The rule of a selector's kind, or undefined when the kind is unknown. */
export function selectorRuleFor(s: Selector): SelectorRule | undefined {
  const text = formatSelector(s)
  let best: SelectorRule | undefined
  for (const r of SELECTOR_RULES) {
    if (text.startsWith(`${r.kind}:`) && (!best || r.kind.length > best.kind.length)) best = r
  }
  return best
}

/**
 * Why `s` can never match what Sigil's attestors emit, or undefined when it follows its
 * kind's rule. Assumes `s` already passed `parseSelector` (syntax, size, control characters).
 *
 * @example
 * selectorProblem({ type: 'unix', value: 'uid:-1' }) // 'unix:uid must be a decimal id 0..4294967294 (no sign, no leading zeros)'
 */
export function selectorProblem(s: Selector): string | undefined {
  if (!SELECTOR_TYPES.includes(s.type)) {
    return `unknown selector type "${echo(s.type)}" (known types: ${SELECTOR_TYPES.join(', ')})`
  }
  const rule = selectorRuleFor(s)
  if (!rule) {
    const kinds = SELECTOR_RULES.filter((r) => r.kind.startsWith(`${s.type}:`)).map((r) => r.kind)
    return `unknown ${s.type} selector "${echo(s.value.split(':')[0] ?? '')}" (known: ${kinds.join(', ')})`
  }
  const value = formatSelector(s).slice(rule.kind.length + 1)
  if (value.trim() !== value) return `${rule.kind} must not have leading or trailing whitespace`
  if (!rule.accepts(value)) return `${rule.kind} must be ${rule.rule}`
  return undefined
}

/**
 * Throws `ERR_SELECTOR_INVALID` (naming the rule) unless `s` follows its kind's rule.
 *
 * @example
 * checkSelectorRule({ type: 'unix', value: 'uid:1000' }) // returns it
 */
export function checkSelectorRule(s: Selector): Selector {
  const why = selectorProblem(s)
  if (why)
    throw new SigilError('ERR_SELECTOR_INVALID', `invalid selector "${echo(formatSelector(s))}": ${why}`)
  return s
}

/**
 * True when the selectors name who runs the process (a `unix` uid, gid, user or group,
 * primary or supplementary). Every other workload selector (executable path or hash, entry
 * script, module, cgroup) can be matched by a process of any user on the node; `proc:script`
 * and `proc:module` are even the process's own claim, taken from its command line.
 *
 * @example
 * namesCaller([{ type: 'proc', value: 'script:/srv/app.js' }]) // false
 */
export function namesCaller(selectors: readonly Selector[]): boolean {
  return selectors.some((s) => selectorRuleFor(s)?.namesCaller === true)
}
