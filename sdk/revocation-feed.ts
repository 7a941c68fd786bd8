/**
 * Sigil's revocation feed for services that verify without an agent: polls the bundle
 * endpoint's `GET /revocations` (a snapshot first, then deltas with `?since=N`) and answers
 * `isRevoked({ jti, txn, serial })` with one Map probe per field. Pass it to
 * {@link validateJwtSvid} as `revocations` so revoked JWT-SVIDs (by `jti`, or by the Txn-Token
 * `txn` they carry) are refused with `ERR_SVID_REVOKED`.
 *
 * Trust: as for the bundle itself, whoever can serve the endpoint decides what is revoked; the
 * endpoint is authenticated by the profile (`https_web` or `https_spiffe`). A failed poll keeps
 * the last list and retries at the next interval (errors go to `onError`); entries are dropped
 * when the credential they name has expired.
 *
 * @example
 * const feed = await RevocationFeed.create({ url: 'https://sigil.example.org:8443/', profile: { type: 'https_web' } })
 * const svid = await validateJwtSvid(token, { audience: 'tool-api', bundleFor, revocations: feed })
 * feed.close()
 */
import { SigilError } from '../certs/errors.js'
import { normalizeSerial } from '../certs/x509svid/crl.js'
import { type BundleEndpointProfile, fetchFromBundleEndpoint } from './bundle-endpoint-client.js'

/** Default time between polls (the server's `refresh_hint` wins when it is longer). */
export const DEFAULT_REVOCATION_POLL_MS = 5_000

/** How to build a {@link RevocationFeed}. */
export interface RevocationFeedOptions {
  /** The bundle endpoint (its `/revocations` is polled) or the feed's own URL. */
  readonly url: string | URL
  readonly profile: BundleEndpointProfile
  /** Time between polls, ms (default {@link DEFAULT_REVOCATION_POLL_MS}). */
  readonly pollIntervalMs?: number
  readonly timeoutMs?: number
  /** Called with every failed poll (the last list is kept). */
  readonly onError?: (err: SigilError) => void
  /** The clock for expiry; default now. */
  readonly now?: () => Date
}

/** What {@link RevocationFeed.isRevoked} is asked. */
export interface RevocationQuery {
  readonly jti?: string
  readonly txn?: string
  /** X.509 serial in hex (any case, `:` separators allowed). */
  readonly serial?: string
}

interface FeedDocument {
  sequence: number
  snapshot: boolean
  revocations: { kind: string; value: string; expires_at: number }[]
}

const KINDS = ['x509_serial', 'jwt_jti', 'txn'] as const

/** A polled copy of Sigil's revocation list (see the module comment). */
export class RevocationFeed {
  readonly #opts: RevocationFeedOptions
  readonly #url: URL
  readonly #maps = new Map<string, Map<string, number>>(KINDS.map((k) => [k, new Map()]))
  #sequence = 0
  #timer: NodeJS.Timeout | undefined
  #closed = false

  private constructor(opts: RevocationFeedOptions) {
    this.#opts = opts
    const url = new URL(String(opts.url))
    if (!url.pathname.endsWith('/revocations'))
      url.pathname = `${url.pathname.replace(/\/$/, '')}/revocations`
    this.#url = url
  }

  /** Fetches the list once (rejecting when that fails) and starts polling. */
  static async create(opts: RevocationFeedOptions): Promise<RevocationFeed> {
    const interval = opts.pollIntervalMs
    if (interval !== undefined && (!Number.isFinite(interval) || interval <= 0)) {
      throw new TypeError('pollIntervalMs must be a positive number')
    }
    const feed = new RevocationFeed(opts)
    await feed.refresh()
    feed.#schedule()
    return feed
  }

  /** The server's sequence number held now. */
  get sequence(): number {
    return this.#sequence
  }

  /** True when any given field names a revoked credential that has not expired. */
  isRevoked(q: RevocationQuery): boolean {
    const now = (this.#opts.now?.() ?? new Date()).getTime()
    const hit = (kind: string, value: string | undefined) => {
      if (value === undefined) return false
      const exp = this.#maps.get(kind)?.get(value)
      return exp !== undefined && exp > now
    }
    return (
      hit('jwt_jti', q.jti) || hit('txn', q.txn) || hit('x509_serial', q.serial && canonicalSerial(q.serial))
    )
  }

  /** Polls now; resolves the sequence held afterwards (rejects when the poll fails). */
  async refresh(): Promise<number> {
    const url = new URL(this.#url)
    if (this.#sequence > 0) url.searchParams.set('since', String(this.#sequence))
    const body = await fetchFromBundleEndpoint({
      url,
      profile: this.#opts.profile,
      ...(this.#opts.timeoutMs ? { timeoutMs: this.#opts.timeoutMs } : {}),
      ...(this.#opts.now ? { now: this.#opts.now() } : {}),
    })
    const doc = parseFeed(body)
    if (doc.snapshot) for (const m of this.#maps.values()) m.clear()
    for (const r of doc.revocations) this.#maps.get(r.kind)?.set(r.value, r.expires_at * 1000)
    this.#sequence = doc.sequence
    const now = (this.#opts.now?.() ?? new Date()).getTime()
    for (const m of this.#maps.values()) for (const [v, exp] of m) if (exp <= now) m.delete(v)
    return this.#sequence
  }

  /** Stops polling. */
  close(): void {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
  }

  #schedule(): void {
    if (this.#closed) return
    this.#timer = setTimeout(() => {
      this.refresh().then(
        () => this.#schedule(),
        (err: unknown) => {
          this.#opts.onError?.(
            err instanceof SigilError ? err : new SigilError('ERR_UNAVAILABLE', String(err), { cause: err }),
          )
          this.#schedule()
        },
      )
    }, this.#opts.pollIntervalMs ?? DEFAULT_REVOCATION_POLL_MS)
    this.#timer.unref()
  }
}

function canonicalSerial(s: string): string | undefined {
  try {
    return normalizeSerial(s)
  } catch {
    return undefined // not hex: nobody revoked it
  }
}

function parseFeed(body: Buffer): FeedDocument {
  let doc: unknown
  try {
    doc = JSON.parse(body.toString('utf8'))
  } catch (cause) {
    throw new SigilError('ERR_INVALID_ARGUMENT', 'revocation feed: not JSON', { cause })
  }
  const d = doc as Partial<FeedDocument> | null
  if (
    typeof d !== 'object' ||
    d === null ||
    !Number.isSafeInteger(d.sequence) ||
    typeof d.snapshot !== 'boolean' ||
    !Array.isArray(d.revocations) ||
    !d.revocations.every(
      (r) => typeof r?.kind === 'string' && typeof r.value === 'string' && Number.isFinite(r.expires_at),
    )
  ) {
    throw new SigilError('ERR_INVALID_ARGUMENT', 'revocation feed: unexpected document shape')
  }
  return d as FeedDocument
}
