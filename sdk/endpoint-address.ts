/**
 * Where a workload finds the SPIFFE Workload API (SPIFFE.md §5.1): an explicitly configured
 * address, else the `SPIFFE_ENDPOINT_SOCKET` URI. Accepted forms are exactly the spec's:
 * `unix:///abs/path` or `unix:/abs/path` (no host, no query, no fragment) and `tcp://IP:port`
 * (an IP literal and a port, nothing else). Anything else is refused with `ERR_CONFIG_INVALID`
 * naming the rule, never guessed at. The address says nothing about trust: the agent
 * identifies the caller out of band, and the channel is plaintext gRPC by design.
 */
import { isIP } from 'node:net'
import { isAbsolute } from 'node:path'
import { SigilError } from '../certs/errors.js'

/** The environment variable SPIFFE clients read. */
export const ENDPOINT_SOCKET_ENV = 'SPIFFE_ENDPOINT_SOCKET'

/** A parsed Workload API address. */
export type EndpointAddress =
  | { readonly network: 'unix'; readonly path: string }
  | { readonly network: 'tcp'; readonly host: string; readonly port: number }

/**
 * Parses a Workload API address URI; throws `ERR_CONFIG_INVALID` naming the broken rule.
 *
 * @example
 * parseEndpointAddress('unix:///run/sigil/api.sock') // { network: 'unix', path: '/run/sigil/api.sock' }
 * parseEndpointAddress('tcp://127.0.0.1:8000') // { network: 'tcp', host: '127.0.0.1', port: 8000 }
 */
export function parseEndpointAddress(value: string): EndpointAddress {
  if (typeof value !== 'string') throw new TypeError('endpoint address must be a string')
  const fail = (why: string): never => {
    throw new SigilError('ERR_CONFIG_INVALID', `Workload API address "${value.slice(0, 200)}": ${why}`)
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return fail('not a URI (expected unix:///absolute/path or tcp://IP:port)')
  }
  if (url.username || url.password) fail('user info is not allowed')
  if (url.search || value.includes('?')) fail('a query is not allowed')
  if (url.hash || value.includes('#')) fail('a fragment is not allowed')
  if (url.protocol === 'unix:') return { network: 'unix', path: unixPath(value, url, fail) }
  if (url.protocol === 'tcp:') return tcpAddress(value, url, fail)
  return fail(`unsupported scheme "${url.protocol}" (expected unix: or tcp:)`)
}

function unixPath(value: string, url: URL, fail: (why: string) => never): string {
  if (url.host) fail('a unix URI must not name a host (use unix:///absolute/path)')
  if (!/^unix:(\/\/\/|\/(?!\/))/.test(value)) fail('the path must be absolute (unix:///absolute/path)')
  let path = ''
  try {
    path = decodeURIComponent(url.pathname)
  } catch {
    fail('the path is not valid percent-encoding')
  }
  if (!isAbsolute(path) || path === '/' || path.endsWith('/')) fail('the path must name a socket file')
  if (path.includes('\0')) fail('the path must not contain NUL')
  return path
}

function tcpAddress(value: string, url: URL, fail: (why: string) => never): EndpointAddress {
  if (!value.startsWith('tcp://')) fail('a tcp URI must be tcp://IP:port')
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (isIP(host) === 0) fail('the host must be an IP address, not a name')
  if (url.port === '') fail('a port is required')
  if (url.pathname !== '') fail('a path is not allowed')
  return { network: 'tcp', host, port: Number(url.port) }
}

/**
 * The address to use: `explicit` when given (a URI, or an absolute socket path), else the
 * environment's `SPIFFE_ENDPOINT_SOCKET`. Throws `ERR_CONFIG_INVALID` when neither is set.
 *
 * @example
 * resolveEndpointAddress(undefined, { SPIFFE_ENDPOINT_SOCKET: 'unix:/tmp/agent.sock' }) // { network: 'unix', path: '/tmp/agent.sock' }
 * resolveEndpointAddress('/tmp/agent.sock') // { network: 'unix', path: '/tmp/agent.sock' }
 */
export function resolveEndpointAddress(
  explicit?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): EndpointAddress {
  if (explicit !== undefined) {
    if (typeof explicit !== 'string' || explicit === '')
      throw new TypeError('address must be a non-empty string')
    if (explicit.startsWith('/')) return parseEndpointAddress(`unix://${explicit}`)
    return parseEndpointAddress(explicit)
  }
  const fromEnv = env[ENDPOINT_SOCKET_ENV]
  if (fromEnv === undefined || fromEnv === '') {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `no Workload API address: set ${ENDPOINT_SOCKET_ENV} (e.g. unix:///tmp/sigil-agent/public/api.sock) or pass one`,
    )
  }
  return parseEndpointAddress(fromEnv)
}

/**
 * The gRPC target string for an address (`unix:/abs/path`, `ipv4:1.2.3.4:8000`, `ipv6:[::1]:8000`).
 *
 * @example
 * grpcTarget({ network: 'unix', path: '/tmp/agent.sock' }) // 'unix:/tmp/agent.sock'
 */
export function grpcTarget(address: EndpointAddress): string {
  if (address.network === 'unix') return `unix:${address.path}`
  return isIP(address.host) === 6
    ? `ipv6:[${address.host}]:${address.port}`
    : `ipv4:${address.host}:${address.port}`
}
