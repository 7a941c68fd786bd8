/**
 * JSON claims as a `google.protobuf.Struct` (ValidateJWTSVIDResponse.claims): numbers travel
 * as doubles, null as NULL_VALUE, arrays as ListValue, objects as nested Structs.
 */
import type { Struct } from '../../proto/generated/google/protobuf/Struct.js'
import type { Value } from '../../proto/generated/google/protobuf/Value.js'

/** Nesting deeper than this is cut off (as null): claims come from a verified token, but stay bounded. */
const MAX_DEPTH = 32

/**
 * Converts a JSON object to a Struct.
 *
 * @example
 * toStruct({ sub: 'spiffe://example.org/web', exp: 1700000000 })
 * // { fields: { sub: { stringValue: '...' }, exp: { numberValue: 1700000000 } } }
 */
export function toStruct(obj: Record<string, unknown>, depth = 0): Struct {
  const fields: Record<string, Value> = {}
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v, depth + 1)
  return { fields }
}

function toValue(v: unknown, depth: number): Value {
  if (depth > MAX_DEPTH || v === null || v === undefined) return { nullValue: 'NULL_VALUE' }
  if (typeof v === 'number') return { numberValue: v }
  if (typeof v === 'string') return { stringValue: v }
  if (typeof v === 'boolean') return { boolValue: v }
  if (Array.isArray(v)) return { listValue: { values: v.map((x) => toValue(x, depth + 1)) } }
  if (typeof v === 'object') return { structValue: toStruct(v as Record<string, unknown>, depth) }
  return { nullValue: 'NULL_VALUE' }
}
