/** `host:port` listen addresses in configuration. Port 0 asks the OS for a free port. */
import { isIP } from 'node:net'
import { SigilError } from '../../certs/errors.js'

export interface HostPort {
  readonly host: string
  readonly port: number
}

/**
 * Parses `host:port` (IPv6 as `[::1]:8081`).
 *
 * @example
 * parseHostPort('127.0.0.1:8081') // { host: '127.0.0.1', port: 8081 }
 */
export function parseHostPort(input: string, what = 'address'): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(input)
  const port = m ? Number(m[3]) : Number.NaN
  if (!m || port > 65535) {
    throw new SigilError('ERR_CONFIG_INVALID', `${what}: "${input}" is not host:port (e.g. 127.0.0.1:8081)`)
  }
  return { host: (m[1] ?? m[2]) as string, port }
}

/**
 * True for a loopback host: `localhost`, 127.0.0.0/8 or `::1` (IPv6 brackets allowed).
 *
 * @example
 * isLoopbackHost('127.0.0.1') // true
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (bare === 'localhost' || bare === '::1') return true
  return isIP(bare) === 4 && bare.startsWith('127.')
}
