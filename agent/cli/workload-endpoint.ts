/**
 * Where the CLI finds the Workload API (SPIFFE.md §5.1): `--socket-path PATH`, else the
 * `SPIFFE_ENDPOINT_SOCKET` URI, else {@link DEFAULT_WORKLOAD_SOCKET}. Only Unix sockets are
 * accepted, in the spec's forms `unix:///abs/path` and `unix:/abs/path`; anything else (a host
 * authority, a relative path, a query, `tcp://`) is refused with `ERR_CONFIG_INVALID` naming the
 * rule, rather than guessed at.
 */
import { isAbsolute, resolve } from 'node:path'
import { SigilError } from '../../certs/errors.js'

/** The agent's default Workload API socket. */
export const DEFAULT_WORKLOAD_SOCKET = '/tmp/sigil-agent/public/api.sock'

/** The environment variable SPIFFE clients read. */
export const ENDPOINT_SOCKET_ENV = 'SPIFFE_ENDPOINT_SOCKET'

/**
 * The absolute socket path of a `SPIFFE_ENDPOINT_SOCKET` value; throws `ERR_CONFIG_INVALID`.
 *
 * @example
 * parseEndpointSocket('unix:///run/sigil/api.sock') // '/run/sigil/api.sock'
 * parseEndpointSocket('unix:/run/sigil/api.sock') // '/run/sigil/api.sock'
 */
export function parseEndpointSocket(value: string): string {
  const fail = (why: string): never => {
    throw new SigilError('ERR_CONFIG_INVALID', `${ENDPOINT_SOCKET_ENV} "${value}": ${why}`)
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return fail('not a URI (expected unix:///absolute/path)')
  }
  if (url.protocol === 'tcp:') fail('TCP endpoints are not supported; use unix:///absolute/path')
  if (url.protocol !== 'unix:') fail(`unsupported scheme "${url.protocol}" (expected unix:///absolute/path)`)
  if (url.username || url.password) fail('a unix URI must not have user info')
  if (url.host) fail('a unix URI must not name a host (use unix:///absolute/path)')
  if (url.search || value.includes('?')) fail('a unix URI must not have a query')
  if (url.hash || value.includes('#')) fail('a unix URI must not have a fragment')
  if (!/^unix:(\/\/\/|\/(?!\/))/.test(value)) fail('the path must be absolute (unix:///absolute/path)')
  let path: string
  try {
    path = decodeURIComponent(url.pathname)
  } catch {
    return fail('the path is not valid percent-encoding')
  }
  if (!isAbsolute(path) || path === '/') fail('the path must be an absolute socket path')
  if (path.includes('\0')) fail('the path must not contain NUL')
  return path
}

/**
 * The socket the CLI talks to: the flag, else `SPIFFE_ENDPOINT_SOCKET`, else the default.
 *
 * @example
 * resolveWorkloadSocket(undefined, { SPIFFE_ENDPOINT_SOCKET: 'unix:///tmp/a.sock' }) // '/tmp/a.sock'
 */
export function resolveWorkloadSocket(
  flag: string | undefined,
  env: Record<string, string | undefined>,
): string {
  if (flag) return resolve(flag)
  const fromEnv = env[ENDPOINT_SOCKET_ENV]
  if (fromEnv !== undefined && fromEnv !== '') return parseEndpointSocket(fromEnv)
  return DEFAULT_WORKLOAD_SOCKET
}
