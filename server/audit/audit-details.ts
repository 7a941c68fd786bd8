/**
 * How an audit record's free-form parts become stored text: canonical JSON (object keys
 * sorted, so equal content is equal text) with secrets left out and sizes bounded. A field
 * whose name says it holds a credential (`token`, `key`, `csr`, `svid`, `secret`, `password`,
 * …) is dropped, whatever its value; long strings are cut at {@link MAX_DETAIL_STRING}
 * characters, long arrays at {@link MAX_DETAIL_ITEMS}, nesting at {@link MAX_DETAIL_DEPTH}.
 */

/** Longest string kept in details (longer ones end in `…`). */
export const MAX_DETAIL_STRING = 512
/** Most array items kept in details. */
export const MAX_DETAIL_ITEMS = 64
/** Deepest nesting kept in details. */
export const MAX_DETAIL_DEPTH = 5

/** Last words of field names that hold credentials: such fields are never written to the trail. */
const SECRET_WORDS = new Set([
  'token',
  'tokens',
  'key',
  'keys',
  'csr',
  'svid',
  'svids',
  'secret',
  'password',
  'assertion',
  'jwt',
  'pem',
  'der',
])
/** Whole field names that hold credentials under another name. */
const SECRET_NAMES = new Set(['on_behalf_of', 'onbehalfof', 'authorization'])

/**
 * True when a field of this name is kept out of the trail: its last word (split at `_`, `-`
 * and camelCase) is a credential word, e.g. `token`, `join_token`, `privateKey`, `csr`, `svid`
 * (but not `x509_svid_ttl`).
 */
export function isSecretFieldName(name: string): boolean {
  const lower = name.toLowerCase()
  if (SECRET_NAMES.has(lower)) return true
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[_\-.]+/)
  return SECRET_WORDS.has(words[words.length - 1] ?? '')
}

function clean(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value)
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'string') {
    return value.length > MAX_DETAIL_STRING ? `${value.slice(0, MAX_DETAIL_STRING)}…` : value
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return undefined // bytes: keys, CSRs, certificates
  if (depth >= MAX_DETAIL_DEPTH) return '…'
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_DETAIL_ITEMS).map((v) => clean(v, depth + 1) ?? null)
    if (value.length > MAX_DETAIL_ITEMS) items.push(`… ${value.length - MAX_DETAIL_ITEMS} more`)
    return items
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value).sort()) {
      if (isSecretFieldName(k)) continue
      const v = clean((value as Record<string, unknown>)[k], depth + 1)
      if (v !== undefined) out[k] = v
    }
    return out
  }
  return undefined // functions, symbols
}

/**
 * The canonical JSON text of `value` for an audit record (`'{}'` for undefined).
 *
 * @example
 * auditJson({ b: 1, a: 'x', token: 'eyJ…' }) // '{"a":"x","b":1}'
 */
export function auditJson(value: unknown): string {
  if (value === undefined) return '{}'
  return JSON.stringify(clean(value, 0) ?? {})
}
