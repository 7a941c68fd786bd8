/**
 * When the agent renews a workload SVID and how long it waits after a failure: pure decisions
 * (STYLE.md habit 8); the cache's maintenance loop acts on them.
 */

/** Default share of an SVID's lifetime that may remain before it is renewed (SPIRE: 1/2). */
export const DEFAULT_ROTATION_FRACTION = 0.5
/** The renewal point moves by up to this share either way, so processes do not renew in step. */
export const ROTATION_JITTER = 0.1
/** An X509-SVID with less than this left is no longer handed out. */
export const MIN_SERVE_REMAINING_MS = 1_000
/** First retry delay after a failed issuance. */
export const DEFAULT_RETRY_INITIAL_MS = 500
/** Longest retry delay after repeated failures. */
export const DEFAULT_RETRY_MAX_MS = 5_000

/**
 * The moment an SVID should be renewed: when `fraction` (±{@link ROTATION_JITTER}) of its
 * lifetime remains. The lifetime is counted from when it was requested (`issuedAt`), not from
 * its backdated NotBefore, so that short TTLs are not renewed at once. `random` is in [0, 1);
 * the cache draws it once per process, so that a process's SVIDs come due together.
 *
 * @example
 * renewalTime(issuedAt, notAfter, 0.5, Math.random()) // somewhere between 45% and 55% of the life left
 */
export function renewalTime(issuedAt: Date, notAfter: Date, fraction: number, random: number): Date {
  const lifetime = Math.max(0, notAfter.getTime() - issuedAt.getTime())
  const jitter = 1 + ROTATION_JITTER * (2 * random - 1)
  const remaining = Math.min(1, fraction * jitter) * lifetime
  return new Date(notAfter.getTime() - remaining)
}

/** True once `now` has reached the renewal time. */
export function shouldRenew(now: Date, renewAt: Date): boolean {
  return now.getTime() >= renewAt.getTime()
}

/** A renewal is never scheduled sooner than this after issuance (guards against tiny lifetimes). */
export const MIN_RENEW_AFTER_MS = 1_000

/**
 * The renewal time of a workload X509-SVID: {@link renewalTime}, but never sooner than
 * {@link MIN_RENEW_AFTER_MS} after it was requested.
 *
 * @example
 * x509RenewalTime(svid.issuedAt, svid.notAfter, 0.5, draw)
 */
export function x509RenewalTime(issuedAt: Date, notAfter: Date, fraction: number, random: number): Date {
  const renewAt = renewalTime(issuedAt, notAfter, fraction, random)
  const earliest = issuedAt.getTime() + MIN_RENEW_AFTER_MS
  return renewAt.getTime() < earliest ? new Date(earliest) : renewAt
}

/** What {@link svidNeed} needs to know of a held X509-SVID. */
export interface HeldRevision {
  /** The entry revision it was requested for. */
  readonly revision: number
  readonly renewAt: Date
}

/** True when no SVID is held for an entry's current revision (`held` is none or of an older one). */
export function svidMissing(held: HeldRevision | undefined, revision: number): boolean {
  return held === undefined || held.revision !== revision
}

/**
 * The one "due" test of the agent's X509-SVIDs, for one entry at `now`: `'missing'` when no SVID
 * is held for it or the held one is of an older entry revision, `'due'` once the held one
 * reached its renewal time, else `'current'`.
 *
 * @example
 * svidNeed(held, entry.revisionNumber, now) // 'missing' | 'due' | 'current'
 */
export function svidNeed(
  held: HeldRevision | undefined,
  revision: number,
  now: Date,
): 'missing' | 'due' | 'current' {
  if (held === undefined || svidMissing(held, revision)) return 'missing'
  return shouldRenew(now, held.renewAt) ? 'due' : 'current'
}

/** When one SVID of a process is due, its others that went this share of the way to their own renewal time are renewed with it. */
export const RENEW_TOGETHER_SHARE = 0.5

/** What {@link renewTogether} needs to know of one held SVID. */
export interface RenewalTimes {
  /** When it was requested. */
  readonly issuedAt: Date
  readonly renewAt: Date
}

/**
 * Which of one process's SVIDs to renew at `now` (one flag per SVID, in order): none until one
 * of them is due; then each one that is due or has gone {@link RENEW_TOGETHER_SHARE} of the way
 * from its issuance to its renewal time. A process's SVIDs thus renew together (its workloads
 * get one snapshot per rotation, not one per SVID) and an SVID added later falls in step with
 * the others within one rotation, while none is renewed before half its planned time.
 *
 * @example
 * renewTogether(now, heldSvids) // e.g. [true, true, false]
 */
export function renewTogether(now: Date, held: readonly RenewalTimes[]): boolean[] {
  const t = now.getTime()
  if (!held.some((h) => shouldRenew(now, h.renewAt))) return held.map(() => false)
  return held.map((h) => {
    const start = h.issuedAt.getTime()
    return shouldRenew(now, h.renewAt) || t - start >= RENEW_TOGETHER_SHARE * (h.renewAt.getTime() - start)
  })
}

/** True while an SVID expiring at `notAfter` may still be handed to a workload at `now`. */
export function isServable(now: Date, notAfter: Date): boolean {
  return notAfter.getTime() - now.getTime() >= MIN_SERVE_REMAINING_MS
}

/** Checks a rotation fraction from configuration: a number in (0, 1). */
export function checkRotationFraction(fraction: number): number {
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
    throw new TypeError('rotationFraction must be a number between 0 and 1 (exclusive)')
  }
  return fraction
}
