/**
 * Pure rotation decisions for the server's signing authorities (X.509 CAs and JWT keys
 * share one schedule, as in SPIRE; see SPIFFE.md §6 "Server CA"). Each function answers
 * one question from a point in time and an authority's validity; the CA manager's loop
 * acts on the answers. Nothing here reads a clock, touches keys or does I/O.
 *
 * Schedule for an authority valid over [notBefore, notAfter] (lifetime L):
 * - prepare the next one (and publish it in the bundle) once remaining ≤ min(L/2, 30 days);
 * - activate the next one once remaining ≤ min(L/6, 7 days), i.e. at 5/6 of L by default;
 * - a retired authority stays in the bundle until every SVID it signed has expired:
 *   until min(notAfter, latest notAfter it signed) plus a small grace for clock skew.
 */

/** Prepare the next authority when the current one's remaining life is at most lifetime / this. */
export const PREPARE_NEXT_DIVISOR = 2
/** Upper bound on the preparation lead time (SPIRE's cap): 30 days. */
export const PREPARE_NEXT_CAP_MS = 30 * 24 * 60 * 60 * 1000
/** Activate the next authority when the current one's remaining life is at most lifetime / this. */
export const ACTIVATE_NEXT_DIVISOR = 6
/** Upper bound on the activation lead time (SPIRE's cap): 7 days. */
export const ACTIVATE_NEXT_CAP_MS = 7 * 24 * 60 * 60 * 1000
/** A retired authority's grace after its last SVID expires is lifetime / this ... */
export const RETIRED_GRACE_DIVISOR = 12
/** ... capped at five minutes (covers verifier clock skew; go-jose allows 60 s). */
export const RETIRED_GRACE_CAP_MS = 5 * 60 * 1000
/** The rotation loop ticks about this many times per authority lifetime ... */
export const TICKS_PER_LIFETIME = 100
/** ... but never faster than this ... */
export const MIN_TICK_MS = 100
/** ... nor slower than this. */
export const MAX_TICK_MS = 10_000

/** The validity window of a CA certificate or JWT key. */
export interface Validity {
  readonly notBefore: Date
  readonly notAfter: Date
}

function lifetimeMs(v: Validity): number {
  return Math.max(0, v.notAfter.getTime() - v.notBefore.getTime())
}

function remainingMs(now: Date, v: Validity): number {
  return v.notAfter.getTime() - now.getTime()
}

/**
 * True when the successor of `current` should be prepared (and published) now.
 *
 * @example
 * shouldPrepareNext(new Date(12_000), { notBefore: new Date(0), notAfter: new Date(24_000) }) // true
 */
export function shouldPrepareNext(now: Date, current: Validity): boolean {
  const lead = Math.min(lifetimeMs(current) / PREPARE_NEXT_DIVISOR, PREPARE_NEXT_CAP_MS)
  return remainingMs(now, current) <= lead
}

/**
 * True when the prepared successor should take over signing from `current` now.
 *
 * @example
 * shouldActivateNext(new Date(20_000), { notBefore: new Date(0), notAfter: new Date(24_000) }) // true
 */
export function shouldActivateNext(now: Date, current: Validity): boolean {
  const lead = Math.min(lifetimeMs(current) / ACTIVATE_NEXT_DIVISOR, ACTIVATE_NEXT_CAP_MS)
  return remainingMs(now, current) <= lead
}

/**
 * How long a successor is published before it starts signing, for a given lifetime:
 * the time relying parties have to fetch it (the bundle refresh hint should be well below).
 *
 * @example
 * publicationLeadMs(24 * 3600_000) // 8 h (published at 12 h, active at 20 h)
 */
export function publicationLeadMs(lifetimeMs: number): number {
  const prepare = Math.min(lifetimeMs / PREPARE_NEXT_DIVISOR, PREPARE_NEXT_CAP_MS)
  return prepare - Math.min(lifetimeMs / ACTIVATE_NEXT_DIVISOR, ACTIVATE_NEXT_CAP_MS)
}

/** True when `authority` may sign at `now`: notBefore ≤ now < notAfter. */
export function isUsable(now: Date, authority: Validity): boolean {
  return authority.notBefore.getTime() <= now.getTime() && now.getTime() < authority.notAfter.getTime()
}

/** The grace a retired authority keeps after its last SVID expires (clock skew allowance). */
export function retiredGraceMs(authority: Validity): number {
  return Math.min(lifetimeMs(authority) / RETIRED_GRACE_DIVISOR, RETIRED_GRACE_CAP_MS)
}

/**
 * When a retired authority may leave the bundle. SVIDs are clamped to the authority's
 * notAfter, so no SVID it signed outlives min(notAfter, signedUntil). `signedUntil`
 * undefined means "unknown" (e.g. after a restart) and counts as notAfter.
 *
 * @example
 * dropFromBundleAt({ notBefore: new Date(0), notAfter: new Date(60_000) }, new Date(30_000)) // 35 s
 */
export function dropFromBundleAt(authority: Validity, signedUntil: Date | undefined): Date {
  const notAfter = authority.notAfter.getTime()
  const last = signedUntil === undefined ? notAfter : Math.min(notAfter, signedUntil.getTime())
  return new Date(last + retiredGraceMs(authority))
}

/**
 * True when a retired authority can leave the bundle: every SVID it signed has expired
 * (and the grace has passed).
 *
 * @example
 * shouldDropFromBundle(new Date(40_000), { notBefore: new Date(0), notAfter: new Date(60_000) }, new Date(30_000)) // true
 */
export function shouldDropFromBundle(now: Date, authority: Validity, signedUntil: Date | undefined): boolean {
  return now.getTime() >= dropFromBundleAt(authority, signedUntil).getTime()
}

/** The rotation loop's period for authorities of the given lifetime (seconds). */
export function rotationIntervalMs(caTtlSeconds: number): number {
  const ideal = (caTtlSeconds * 1000) / TICKS_PER_LIFETIME
  return Math.round(Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, ideal)))
}
