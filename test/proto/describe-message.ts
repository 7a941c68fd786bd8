// Test helper: renders a loaded message's descriptor as { field: '<number> <type>' }
// (e.g. '1 string', '2 repeated bytes', '3 map<string, bytes>', '2 google.protobuf.Struct'),
// so tests can compare whole messages against the tables in SPIFFE.md and our protos.
import type { PackageDefinition } from '@grpc/proto-loader'

interface FieldDescriptor {
  name: string
  number: number
  label: string
  type: string
  typeName: string
}

interface MessageDescriptor {
  name: string
  field: FieldDescriptor[]
  nestedType: MessageDescriptor[]
  oneofDecl: { name: string }[]
  options: { mapEntry?: boolean } | null
}

/** The descriptor of message `name` in `def`; throws if it is missing or not a message. */
export function messageDescriptor(def: PackageDefinition, name: string): MessageDescriptor {
  const entry = def[name]
  if (!entry || !('format' in entry) || entry.format !== 'Protocol Buffer 3 DescriptorProto') {
    throw new Error(`${name} is not a message in this package definition`)
  }
  return entry.type as MessageDescriptor
}

function scalar(type: string): string {
  return type.replace(/^TYPE_/, '').toLowerCase()
}

// protobufjs reports a field's type name relative to the message's scope (as protobuf name
// resolution allows); resolve it scope by scope, innermost first, against the types in `def`
// (which also proves the type exists).
function qualify(def: PackageDefinition, messageName: string, typeName: string): string {
  const scope = messageName.split('.').slice(0, -1)
  for (let i = scope.length; i >= 0; i--) {
    const candidate = [...scope.slice(0, i), typeName].join('.')
    if (def[candidate]) return candidate
  }
  throw new Error(`${messageName}: field type ${typeName} does not resolve`)
}

/** `{ field_name: '<number> [repeated ]<type>' }` for every field of message `name`. */
export function describeMessage(def: PackageDefinition, name: string): Record<string, string> {
  const msg = messageDescriptor(def, name)
  const out: Record<string, string> = {}
  for (const f of msg.field) {
    const mapEntry = msg.nestedType.find((n) => n.name === f.typeName && n.options?.mapEntry === true)
    let type: string
    if (mapEntry) {
      const [k, v] = mapEntry.field
      type = `map<${scalar(k?.type ?? '?')}, ${scalar(v?.type ?? '?')}>`
    } else {
      const base =
        f.type === 'TYPE_MESSAGE' || f.type === 'TYPE_ENUM' ? qualify(def, name, f.typeName) : scalar(f.type)
      type = f.label === 'LABEL_REPEATED' ? `repeated ${base}` : base
    }
    out[f.name] = `${f.number} ${type}`
  }
  return out
}

/** The names of every message (not service, not enum) in `def`, sorted. */
export function messageNames(def: PackageDefinition): string[] {
  return Object.keys(def)
    .filter((k) => {
      const e = def[k]
      return e !== undefined && 'format' in e && e.format === 'Protocol Buffer 3 DescriptorProto'
    })
    .sort()
}
