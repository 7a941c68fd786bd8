/**
 * PostgreSQL connection URLs as Sigil accepts them: `postgres://` or `postgresql://`, with the
 * password (if any) only ever used to connect. {@link redactPostgresUrl} is the one way a URL
 * reaches a message or a log: user, host, port and database, never the password or query
 * parameters (which may carry `password=` or key paths).
 */

/** True for a `postgres://` / `postgresql://` URL (the scheme only; the rest is checked on connect). */
export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text)
}

/** True when the URL carries a password (in its user info or a `password` query parameter). */
export function hasPassword(text: string): boolean {
  try {
    const url = new URL(text)
    return url.password !== '' || url.searchParams.has('password')
  } catch {
    // unparsable: assume the worst, the caller must not echo it
    return /:[^/@]*@|password=/i.test(text)
  }
}

/**
 * `postgres://user@host:port/database` for messages and logs.
 *
 * @example
 * redactPostgresUrl('postgres://sigil:s3cret@db:5432/sigil?sslmode=require') // 'postgres://sigil@db:5432/sigil'
 */
export function redactPostgresUrl(text: string): string {
  try {
    const url = new URL(text)
    const user = url.username ? `${decodeURIComponent(url.username)}@` : ''
    const socket = url.searchParams.get('host')
    const host = url.host || (socket ? `[${socket}]` : 'localhost')
    return `postgres://${user}${host}${url.pathname}`
  } catch {
    return 'postgres://(unparsable URL)'
  }
}
