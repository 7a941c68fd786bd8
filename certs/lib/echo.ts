/**
 * Bounded echoes of untrusted input in error messages: a message names what was wrong
 * without carrying a megabyte of it into logs, terminals and gRPC trailers.
 */

/** How many characters of an input an error message repeats. */
export const ECHO_MAX_CHARS = 64

/**
 * At most `max` characters of `value`, then `…` when it was longer.
 *
 * @example
 * `invalid trust domain "${echo(input)}"`
 */
export function echo(value: string, max = ECHO_MAX_CHARS): string {
  return value.length > max ? `${value.slice(0, max)}…` : value
}
