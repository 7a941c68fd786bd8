/**
 * SPIRE's `entry create -data` file: `{"entries":[…]}`, each entry in the JSON form of SPIRE's
 * `spire.api.types.Entry` (spiffe_id and parent_id as `{"trust_domain","path"}` — a
 * `spiffe://…` string is accepted too — selectors as `[{"type","value"}]`, TTLs in seconds,
 * dns_names, admin, federates_with, hint). Each entry is checked on its own, the way the flags
 * of one `entry create` are: a bad entry becomes an error for that entry alone, not for the
 * file. `id` (a caller-chosen entry ID) and `expires_at` (unix seconds; `entry_expiry` is accepted
 * as its alias) are kept. Fields Sigil has no meaning for are refused for the entry
 * (`downstream`, `store_svid`), never silently dropped; unknown fields too.
 */
import { SigilError } from '../../../../certs/errors.js'
import type { RegistrationEntry } from '../../../../proto/generated/sigil/common/v1/RegistrationEntry.js'
import {
  dnsNameFlags,
  MAX_TTL_SECONDS,
  selectorFlags,
  spiffeIdFlag,
  trustDomainIdFlags,
} from '../../flag-values.js'
import { riskFlag } from './entry-flags.js'

/** The largest `--data` input read (a million-entry file is about 300 MB; this allows ~200k). */
export const MAX_DATA_BYTES = 64 * 1024 * 1024

/** One entry of the file: the wire entry, or why it was refused locally. */
export type DataEntry = { readonly entry: RegistrationEntry } | { readonly error: string }

const KNOWN = new Set([
  'id',
  'spiffe_id',
  'parent_id',
  'selectors',
  'x509_svid_ttl',
  'jwt_svid_ttl',
  'dns_names',
  'admin',
  'downstream',
  'federates_with',
  'hint',
  'expires_at',
  'entry_expiry',
  'store_svid',
  'revision_number',
  'created_at',
  // Sigil's operator metadata (issue 14)
  'owner',
  'purpose',
  'risk',
])

/**
 * The entries of a SPIRE `-data` document. Throws (exit 2) only when the document itself is
 * not `{"entries":[…]}`; each entry's own problems are returned in its place.
 *
 * @example
 * parseSpireEntries('{"entries":[{"spiffe_id":{"trust_domain":"example.org","path":"/web"}, ...}]}')
 */
export function parseSpireEntries(text: string): DataEntry[] {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `--data: not JSON: ${(e as Error).message}`)
  }
  const entries = isObject(doc) ? doc.entries : undefined
  if (!Array.isArray(entries)) {
    throw new SigilError('ERR_INVALID_ARGUMENT', '--data: expected {"entries": [ ... ]}')
  }
  return entries.map((raw): DataEntry => {
    try {
      return { entry: entryFromSpire(raw) }
    } catch (e) {
      return { error: (e as Error).message }
    }
  })
}

function entryFromSpire(raw: unknown): RegistrationEntry {
  if (!isObject(raw)) throw invalid('an entry must be a JSON object')
  for (const k of Object.keys(raw)) if (!KNOWN.has(k)) throw invalid(`unknown field "${k.slice(0, 64)}"`)
  if (raw.id !== undefined && raw.id !== '') {
    if (typeof raw.id !== 'string' || !/^[A-Za-z0-9._:-]{1,255}$/.test(raw.id)) {
      throw invalid('id: 1 to 255 characters of A-Z a-z 0-9 . _ : - (or leave it out)')
    }
  }
  if (raw.downstream === true) throw invalid('downstream: Sigil has no downstream servers')
  if (raw.store_svid === true) throw invalid('store_svid: Sigil has no SVIDStore plugins')
  if (raw.expires_at !== undefined && raw.entry_expiry !== undefined) {
    throw invalid('expires_at and entry_expiry are the same field; give one')
  }
  const expiry = raw.expires_at ?? raw.entry_expiry
  const entry: RegistrationEntry = {
    spiffe_id: spiffeIdFlag(idText(raw.spiffe_id, 'spiffe_id'), 'spiffe_id'),
    parent_id: spiffeIdFlag(idText(raw.parent_id, 'parent_id'), 'parent_id'),
    selectors: selectorFlags(selectorTexts(raw.selectors), 'selectors'),
  }
  if (typeof raw.id === 'string' && raw.id !== '') entry.id = raw.id
  if (expiry !== undefined)
    entry.expires_at = unixSeconds(expiry, raw.expires_at !== undefined ? 'expires_at' : 'entry_expiry')
  if (raw.x509_svid_ttl !== undefined) entry.x509_svid_ttl = ttl(raw.x509_svid_ttl, 'x509_svid_ttl')
  if (raw.jwt_svid_ttl !== undefined) entry.jwt_svid_ttl = ttl(raw.jwt_svid_ttl, 'jwt_svid_ttl')
  if (raw.dns_names !== undefined)
    entry.dns_names = dnsNameFlags(strings(raw.dns_names, 'dns_names'), 'dns_names')
  if (raw.federates_with !== undefined) {
    entry.federates_with = trustDomainIdFlags(strings(raw.federates_with, 'federates_with'), 'federates_with')
  }
  if (raw.admin !== undefined) {
    if (typeof raw.admin !== 'boolean') throw invalid('admin: expected true or false')
    entry.admin = raw.admin
  }
  if (raw.hint !== undefined) {
    if (typeof raw.hint !== 'string') throw invalid('hint: expected a string')
    entry.hint = raw.hint
  }
  for (const field of ['owner', 'purpose', 'risk'] as const) {
    const value = raw[field]
    if (value === undefined) continue
    if (typeof value !== 'string') throw invalid(`${field}: expected a string`)
    entry[field] = field === 'risk' ? riskFlag(value, 'risk') : value
  }
  return entry
}

/** Unix seconds (a number or a decimal string, as protojson writes int64), 0 = never. */
function unixSeconds(v: unknown, field: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 0 || n > 253_402_300_799) {
    throw invalid(`${field}: unix seconds (0: never)`)
  }
  return n
}

function idText(v: unknown, field: string): string {
  if (typeof v === 'string') return v
  if (isObject(v) && typeof v.trust_domain === 'string' && typeof v.path === 'string') {
    return `spiffe://${v.trust_domain}${v.path}`
  }
  throw invalid(`${field}: required, as {"trust_domain": "...", "path": "/..."}`)
}

function selectorTexts(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0)
    throw invalid('selectors: required, as [{"type": "...", "value": "..."}]')
  return v.map((s) => {
    if (!isObject(s) || typeof s.type !== 'string' || typeof s.value !== 'string') {
      throw invalid('selectors: each must be {"type": "...", "value": "..."}')
    }
    return `${s.type}:${s.value}`
  })
}

function strings(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
    throw invalid(`${field}: expected a list of strings`)
  return v
}

function ttl(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TTL_SECONDS) {
    throw invalid(`${field}: expected whole seconds from 0 to ${MAX_TTL_SECONDS}`)
  }
  return v
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function invalid(message: string): SigilError {
  return new SigilError('ERR_INVALID_ARGUMENT', message)
}
