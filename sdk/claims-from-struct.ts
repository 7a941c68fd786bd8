/**
 * ValidateJWTSVIDResponse carries the token's claims as a `google.protobuf.Struct` (SPIFFE.md
 * §5.3): numbers as doubles, null as NULL_VALUE, arrays as ListValue, objects as nested
 * Structs. This turns one back into plain JSON values. Depth is bounded.
 */

/** The decoded shape of `google.protobuf.Value` (proto-loader with `oneofs: true`). */
export interface StructValue {
  kind?: string
  nullValue?: unknown
  numberValue?: number
  stringValue?: string
  boolValue?: boolean
  structValue?: StructFields | null
  listValue?: { values?: StructValue[] } | null
}

/** The decoded shape of `google.protobuf.Struct`. */
export interface StructFields {
  fields?: Record<string, StructValue>
}

const MAX_DEPTH = 32

/**
 * Plain JSON claims from a Struct (an absent Struct gives `{}`).
 *
 * @example
 * claimsFromStruct({ fields: { sub: { kind: 'stringValue', stringValue: 'spiffe://example.org/a' } } })
 * // { sub: 'spiffe://example.org/a' }
 */
export function claimsFromStruct(
  struct: StructFields | null | undefined,
  depth = 0,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(struct?.fields ?? {})) out[k] = fromValue(v, depth + 1)
  return out
}

function fromValue(v: StructValue | undefined, depth: number): unknown {
  if (v === undefined || depth > MAX_DEPTH) return null
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue ?? 0
    case 'stringValue':
      return v.stringValue ?? ''
    case 'boolValue':
      return v.boolValue ?? false
    case 'structValue':
      return claimsFromStruct(v.structValue, depth)
    case 'listValue':
      return (v.listValue?.values ?? []).map((x) => fromValue(x, depth + 1))
    default:
      return null
  }
}
