/**
 * `--server-address` as a list: `host:port[,host:port…]` (SPIRE's `server_address`, plus
 * failover). Each item is a literal IP (IPv6 in brackets) or a DNS name, which the agent
 * resolves to every address it has (agent/sync/server-endpoints.ts). One item is exactly the
 * single-server configuration of before. Trust: none needed; the addresses only say where to
 * connect, every server is authenticated by its SVID (agent/sync/server-tls.ts).
 */
import { SigilError } from '../../certs/errors.js'

/** More addresses than this is a configuration mistake (and a long failover walk). */
export const MAX_SERVER_ADDRESSES = 64

/**
 * Splits and checks a comma-separated `host:port` list; `ERR_CONFIG_INVALID` names the bad item
 * (by position and text), an empty item, a duplicate or a list that is too long.
 *
 * @example
 * parseServerAddressList('10.0.0.5:8081, sigil.internal:8081') // ['10.0.0.5:8081', 'sigil.internal:8081']
 */
export function parseServerAddressList(input: string, option = 'server-address'): string[] {
  const items = input.split(',').map((s) => s.trim())
  const fail = (why: string): never => {
    throw new SigilError('ERR_CONFIG_INVALID', `${option}: ${why}`)
  }
  if (items.length > MAX_SERVER_ADDRESSES)
    fail(`at most ${MAX_SERVER_ADDRESSES} addresses, got ${items.length}`)
  const seen = new Set<string>()
  items.forEach((item, i) => {
    const where = items.length === 1 ? `"${item}"` : `item ${i + 1} "${item}"`
    if (item === '') fail(`item ${i + 1} is empty (expected host:port[,host:port…])`)
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s,]+)):(\d{1,5})$/.exec(item)
    if (!m) fail(`${where} is not host:port (e.g. 10.0.0.5:8081 or [::1]:8081)`)
    const port = Number(m?.[3])
    if (!(port >= 1 && port <= 65535)) fail(`${where}: the port must be between 1 and 65535`)
    const key = item.toLowerCase()
    if (seen.has(key)) fail(`${where} is listed twice`)
    seen.add(key)
  })
  return items
}
