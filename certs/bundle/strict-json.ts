/**
 * Internal: parses untrusted bundle JSON. Caps the size, requires valid UTF-8, requires a
 * top-level object and rejects duplicate member names anywhere (two parsers that keep
 * different duplicates would see different keys). Throws `ERR_BUNDLE_INVALID` only.
 */
import { SigilError } from '../errors.js'

/** Bundle documents larger than this are refused before parsing. */
export const MAX_BUNDLE_JSON_BYTES = 1024 * 1024

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Parses `input` as one JSON object; `what` names the document in error messages. */
export function parseStrictJsonObject(input: string | Uint8Array, what: string): Record<string, unknown> {
  let text: string
  if (typeof input === 'string') {
    if (input.length > MAX_BUNDLE_JSON_BYTES || Buffer.byteLength(input) > MAX_BUNDLE_JSON_BYTES)
      tooLarge(what)
    text = input
  } else if (input instanceof Uint8Array) {
    if (input.length > MAX_BUNDLE_JSON_BYTES) tooLarge(what)
    try {
      text = utf8.decode(input)
    } catch (cause) {
      throw new SigilError('ERR_BUNDLE_INVALID', `${what} is not valid UTF-8`, { cause })
    }
  } else {
    throw new TypeError(`${what} must be a string or a Uint8Array`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new SigilError('ERR_BUNDLE_INVALID', `${what} is not valid JSON`, { cause })
  }
  if (!isObject(value)) throw new SigilError('ERR_BUNDLE_INVALID', `${what} must be a JSON object`)
  const dup = findDuplicateMember(text)
  if (dup !== undefined) {
    throw new SigilError('ERR_BUNDLE_INVALID', `${what} has the member ${JSON.stringify(dup)} twice`)
  }
  return value
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** An own member of a parsed JSON object (never an inherited property). */
export function member(obj: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(obj, name) ? obj[name] : undefined
}

function tooLarge(what: string): never {
  throw new SigilError('ERR_BUNDLE_INVALID', `${what} is larger than ${MAX_BUNDLE_JSON_BYTES} bytes`)
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * The first member name that appears twice in one object of `text`, which must already
 * be known to be valid JSON (so only strings, brackets and commas need tracking).
 */
export function findDuplicateMember(text: string): string | undefined {
  const stack: { names: Set<string> | undefined; expectName: boolean }[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      let j = i + 1
      while (text.charCodeAt(j) !== QUOTE) j += text.charCodeAt(j) === BACKSLASH ? 2 : 1
      const top = stack[stack.length - 1]
      if (top?.names && top.expectName) {
        const name = JSON.parse(text.slice(i, j + 1)) as string
        if (top.names.has(name)) return name
        top.names.add(name)
        top.expectName = false
      }
      i = j
    } else if (c === 0x7b /* { */) {
      stack.push({ names: new Set(), expectName: true })
    } else if (c === 0x5b /* [ */) {
      stack.push({ names: undefined, expectName: false })
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop()
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1]
      if (top?.names) top.expectName = true
    }
  }
  return undefined
}
