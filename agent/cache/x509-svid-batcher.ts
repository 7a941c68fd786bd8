/**
 * Gets X509-SVIDs signed for many (process, entry) pairs at once. Every pair gets a fresh key
 * pair generated here (the private key never leaves the agent and the process it is for); only
 * a CSR goes to the server. The server's batch call takes each entry ID at most once and fails
 * as a whole, so pairs are split into batches of distinct entries, and a batch that fails for a
 * reason other than unavailability is retried one request at a time so one bad entry cannot
 * block the others. Each returned SVID is matched to its request by public key and checked
 * (SVID rules, the entry's SPIFFE ID) before it is accepted.
 */
import { type ErrorCode, isSigilError, SigilError } from '../../certs/errors.js'
import {
  generateKeyPair,
  type KeyType,
  privateKeyToPkcs8Der,
  publicKeyToSpkiDer,
} from '../../certs/keys/keys.js'
import type { CertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import { CertificateFactsMemo } from '../../certs/x509svid/certificate-facts-memo.js'
import { createCsr } from '../../certs/x509svid/csr.js'
import { readSvidChain } from '../../certs/x509svid/parse-x509-svid.js'
import type { AuthorizedEntry, IssuedX509Svid, SvidIssuer } from './authorized-state.js'

/** Most CSRs sent in one call. */
export const MAX_X509_BATCH = 100

/** One SVID to get: for `entry`, on behalf of the process that `owner` stands for. */
export interface X509SvidNeed<T> {
  readonly owner: T
  readonly entry: AuthorizedEntry
}

/** An accepted SVID with its private key. */
export interface SignedX509Svid {
  readonly spiffeId: string
  readonly chainDer: readonly Buffer[]
  readonly privateKeyPkcs8Der: Buffer
  readonly serial: string
  readonly notAfter: Date
  /** When it was requested (the start of its lifetime for renewal decisions). */
  readonly issuedAt: Date
}

/** The outcome for one need. */
export type X509SvidOutcome<T> =
  | { readonly need: X509SvidNeed<T>; readonly svid: SignedX509Svid }
  | { readonly need: X509SvidNeed<T>; readonly error: unknown }

/** One need with its CSR and private key (opaque outside this module). */
export interface Prepared<T> {
  readonly need: X509SvidNeed<T>
  readonly csrDer: Buffer
  readonly spkiHex: string
  readonly privateKeyPkcs8Der: Buffer
}

/**
 * Issues one SVID per need; never throws (failures are per-need outcomes).
 *
 * @example
 * const outcomes = await issueX509Svids(issuer, 'ec-p256', needs, () => new Date())
 */
export async function issueX509Svids<T>(
  issuer: Pick<SvidIssuer, 'newX509Svids'>,
  keyType: KeyType,
  needs: readonly X509SvidNeed<T>[],
  clock: () => Date,
): Promise<X509SvidOutcome<T>[]> {
  const batches = splitDistinct(needs)
  const results = await Promise.all(
    batches.map(async (b) => sendX509Batch(issuer, await prepareX509Batch(keyType, b), clock)),
  )
  return results.flat()
}

/** Splits needs into batches in which each entry ID appears at most once. */
function splitDistinct<T>(needs: readonly X509SvidNeed<T>[]): X509SvidNeed<T>[][] {
  const batches: { ids: Set<string>; needs: X509SvidNeed<T>[] }[] = []
  for (const need of needs) {
    let batch = batches.find((b) => !b.ids.has(need.entry.id) && b.needs.length < MAX_X509_BATCH)
    if (batch === undefined) {
      batch = { ids: new Set(), needs: [] }
      batches.push(batch)
    }
    batch.ids.add(need.entry.id)
    batch.needs.push(need)
  }
  return batches.map((b) => b.needs)
}

/** One owner's due needs and how urgent they are (smaller first). */
export interface DueGroup<T> {
  readonly owner: T
  readonly entries: readonly AuthorizedEntry[]
  readonly deadline: number
}

/**
 * One batch from what is due: whole groups, most urgent (smallest deadline) first, distinct
 * entry IDs, at most {@link MAX_X509_BATCH}; a group with more needs than fit an empty batch is
 * split, one that does not fit what is left waits for the next batch.
 *
 * @example
 * const batch = packX509Batch([{ owner: rec, entries, deadline: now.getTime() }])
 */
export function packX509Batch<T>(groups: readonly DueGroup<T>[]): X509SvidNeed<T>[] {
  const batch: X509SvidNeed<T>[] = []
  const ids = new Set<string>()
  for (const g of [...groups].sort((a, b) => a.deadline - b.deadline)) {
    const room = MAX_X509_BATCH - batch.length
    if (room === 0) break
    const whole = g.entries.length <= room && g.entries.every((e) => !ids.has(e.id))
    if (batch.length > 0 && !whole) continue
    for (const entry of g.entries) {
      if (batch.length === MAX_X509_BATCH) break
      if (ids.has(entry.id)) continue
      ids.add(entry.id)
      batch.push({ owner: g.owner, entry })
    }
  }
  return batch
}

/**
 * The keys and CSRs of one batch (or why they could not be made): what {@link prepareX509Batch}
 * makes and {@link sendX509Batch} sends.
 */
export type PreparedX509Batch<T> =
  | { readonly prepared: readonly Prepared<T>[] }
  | { readonly needs: readonly X509SvidNeed<T>[]; readonly error: unknown }

/**
 * First stage of one batch (distinct entry IDs, at most {@link MAX_X509_BATCH}): a fresh key
 * pair and CSR per need. Never throws. Split from sending so that a caller can prepare one batch
 * while others are at the server.
 *
 * @example
 * const outcomes = await sendX509Batch(issuer, await prepareX509Batch('ec-p256', needs), clock)
 */
export async function prepareX509Batch<T>(
  keyType: KeyType,
  needs: readonly X509SvidNeed<T>[],
): Promise<PreparedX509Batch<T>> {
  try {
    return { prepared: await Promise.all(needs.map((need) => prepare(need, keyType))) }
  } catch (error) {
    return { needs, error }
  }
}

/** Second stage of one batch: gets the prepared CSRs signed and checks the SVIDs. Never throws. */
export async function sendX509Batch<T>(
  issuer: Pick<SvidIssuer, 'newX509Svids'>,
  batch: PreparedX509Batch<T>,
  clock: () => Date,
): Promise<X509SvidOutcome<T>[]> {
  if ('error' in batch) return batch.needs.map((need) => ({ need, error: batch.error }))
  const { prepared } = batch
  const outcomes = await call(issuer, prepared, clock)
  if ('error' in outcomes) {
    if (prepared.length > 1 && !isSigilError(outcomes.error, 'ERR_UNAVAILABLE')) {
      const single = await Promise.all(prepared.map((p) => call(issuer, [p], clock)))
      return single.flatMap((o, i) => ('error' in o ? [{ need: prepared[i]!.need, error: o.error }] : o.list))
    }
    return prepared.map((p) => ({ need: p.need, error: outcomes.error }))
  }
  return outcomes.list
}

async function prepare<T>(need: X509SvidNeed<T>, keyType: KeyType): Promise<Prepared<T>> {
  const keys = await generateKeyPair(keyType)
  const csrDer = await createCsr(keys)
  return {
    need,
    csrDer,
    spkiHex: publicKeyToSpkiDer(keys.publicKey).toString('hex'),
    privateKeyPkcs8Der: privateKeyToPkcs8Der(keys.privateKey),
  }
}

async function call<T>(
  issuer: Pick<SvidIssuer, 'newX509Svids'>,
  prepared: readonly Prepared<T>[],
  clock: () => Date,
): Promise<{ list: X509SvidOutcome<T>[] } | { error: unknown }> {
  const issuedAt = clock()
  let issued: IssuedX509Svid[]
  try {
    issued = await issuer.newX509Svids(prepared.map((p) => ({ entryId: p.need.entry.id, csrDer: p.csrDer })))
    if (!Array.isArray(issued)) throw new TypeError('newX509Svids must return an array')
  } catch (error) {
    return { error }
  }
  // Each chain is parsed once: to match it to its request and to check it. The chains of one
  // answer end in the same CA certificate(s), read once for all of them.
  const caFacts = new CertificateFactsMemo()
  const bySpki = new Map<string, Parsed>()
  for (const svid of issued) {
    try {
      const { spiffeId, facts } = readSvidChain(svid.chainDer, { caFacts })
      const { spkiDer, serialHex, notAfter } = facts[0]!
      bySpki.set(spkiDer.toString('hex'), {
        svid,
        spiffeId: spiffeId.toString(),
        leaf: { serialHex, notAfter },
      })
    } catch {
      // Not a usable SVID: its request is reported as unanswered below.
    }
  }
  return {
    list: prepared.map((p) => {
      const parsed = bySpki.get(p.spkiHex)
      if (parsed === undefined) {
        return { need: p.need, error: failure('ERR_UNAVAILABLE', 'the server returned no usable SVID') }
      }
      try {
        return { need: p.need, svid: accept(parsed, p, issuedAt) }
      } catch (error) {
        return { need: p.need, error }
      }
    }),
  }
}

/** A returned SVID with what was read from its chain. */
interface Parsed {
  readonly svid: IssuedX509Svid
  readonly spiffeId: string
  readonly leaf: Pick<CertificateFacts, 'serialHex' | 'notAfter'>
}

function accept<T>(parsed: Parsed, p: Prepared<T>, issuedAt: Date): SignedX509Svid {
  const { svid, spiffeId: id, leaf } = parsed
  if (id !== p.need.entry.spiffeId || svid.entryId !== p.need.entry.id) {
    throw failure(
      'ERR_SVID_INVALID',
      `the server returned an SVID for ${id}, not for entry ${p.need.entry.id}`,
    )
  }
  const { chainDer, privateKeyPkcs8Der } = compactCopy(svid.chainDer, p.privateKeyPkcs8Der)
  return {
    spiffeId: id,
    chainDer,
    privateKeyPkcs8Der,
    serial: leaf.serialHex,
    notAfter: leaf.notAfter,
    issuedAt,
  }
}

/**
 * Copies an SVID's chain and key into one buffer of their own. The received DER are views into
 * the whole response message, and small copies would be slices of Node's shared 8 KB pool, where
 * one long-lived slice keeps a whole slab of short-lived data alive; a held SVID lives for half
 * its lifetime or more, so it gets exactly the memory it needs.
 */
function compactCopy(
  chain: readonly Buffer[],
  key: Buffer,
): { chainDer: Buffer[]; privateKeyPkcs8Der: Buffer } {
  const parts = [...chain, key]
  const out = Buffer.allocUnsafeSlow(parts.reduce((n, b) => n + b.length, 0))
  let at = 0
  const views = parts.map((b) => {
    b.copy(out, at)
    at += b.length
    return out.subarray(at - b.length, at)
  })
  return { chainDer: views.slice(0, -1), privateKeyPkcs8Der: views[views.length - 1]! }
}

function failure(code: ErrorCode, message: string): SigilError {
  return new SigilError(code, message)
}
