/**
 * Selectors: the attested facts that registration entries are matched on, in
 * SPIRE's vocabulary — a `type` (the attestor, e.g. `unix`, `proc`, `x509pop`)
 * and a `value` that is itself `key:value` (e.g. `uid:1000`). Their string form
 * is `type:key:value`, used by the CLI and in logs. An entry matches a caller
 * when every selector of the entry is among the caller's attested selectors.
 */
import { SigilError } from '../errors.js'

export interface Selector {
  readonly type: string
  readonly value: string
}

const TYPE_CHARS = /^[a-z0-9_-]+$/
const MAX_SELECTOR_BYTES = 1024

/**
 * Parses `type:key:value` (the value may itself contain `:`).
 *
 * @example
 * parseSelector('unix:uid:1000') // { type: 'unix', value: 'uid:1000' }
 */
export function parseSelector(input: string): Selector {
  if (typeof input !== 'string') throw new TypeError('selector must be a string')
  const fail = (why: string): never => {
    throw new SigilError('ERR_SELECTOR_INVALID', `invalid selector "${input.slice(0, 120)}": ${why}`)
  }
  if (Buffer.byteLength(input) > MAX_SELECTOR_BYTES) fail(`longer than ${MAX_SELECTOR_BYTES} bytes`)
  const first = input.indexOf(':')
  if (first <= 0) fail('expected type:key:value')
  const type = input.slice(0, first)
  const value = input.slice(first + 1)
  if (!TYPE_CHARS.test(type)) fail('type may contain only a-z, 0-9, "_" and "-"')
  const second = value.indexOf(':')
  if (value === '' || second === 0) fail('expected type:key:value (the key is missing)')
  if (second < 0) fail(`expected type:key:value (the value is missing: ${type}:${value.slice(0, 40)}:VALUE)`)
  if (second === value.length - 1) fail('expected type:key:value (the value is empty)')
  if (hasControlCharacter(value)) fail('control characters are not allowed')
  return { type, value }
}

/** Formats a selector as `type:key:value`. */
export function formatSelector(s: Selector): string {
  return `${s.type}:${s.value}`
}

/** A canonical, sorted, de-duplicated copy of a selector list. */
export function normalizeSelectors(selectors: readonly Selector[]): Selector[] {
  const seen = new Map<string, Selector>()
  for (const s of selectors) seen.set(formatSelector(s), { type: s.type, value: s.value })
  return [...seen.keys()].sort().map((k) => seen.get(k)!)
}

/**
 * True when every selector in `required` is present in `attested` (an entry with no
 * selectors matches nothing).
 *
 * @example
 * selectorsMatch([{ type: 'unix', value: 'uid:1000' }], attestedSet) // true if attested has it
 */
export function selectorsMatch(required: readonly Selector[], attested: ReadonlySet<string>): boolean {
  if (required.length === 0) return false
  for (const s of required) if (!attested.has(formatSelector(s))) return false
  return true
}

/** The set of `type:key:value` strings of a selector list, for {@link selectorsMatch}. */
export function selectorSet(selectors: readonly Selector[]): Set<string> {
  return new Set(selectors.map(formatSelector))
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) === 0x7f) return true
  return false
}
