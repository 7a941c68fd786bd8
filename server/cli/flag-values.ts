/**
 * Local checks of admin CLI flag values, run before anything is sent to the server so
 * that a bad SPIFFE ID or selector never reaches it. Each failure is a SigilError (exit 2)
 * whose message names the flag.
 */
import { SigilError } from '../../certs/errors.js'
import { echo } from '../../certs/lib/echo.js'
import { parseSelector, type Selector } from '../../certs/selector/selector.js'
import { checkSelectorRule } from '../../certs/selector/selector-rules.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { dnsNameProblem } from '../../certs/x509svid/dns-name.js'
import { errorText } from '../../common/errors/error-text.js'
import { parseDurationSeconds } from '../config/duration.js'

/** The largest TTL the admin API carries (int32 seconds). */
export const MAX_TTL_SECONDS = 2_147_483_647

function flagError(flag: string, error: unknown): never {
  const reason = errorText(error)
  throw new SigilError(
    error instanceof SigilError ? error.code : 'ERR_INVALID_ARGUMENT',
    `${flag}: ${reason}`,
    { cause: error },
  )
}

/** A canonical SPIFFE ID from a flag (the server checks the trust domain). */
export function spiffeIdFlag(value: string, flag: string): string {
  try {
    const id = SpiffeId.parse(value)
    if (id.isTrustDomainId()) throw new SigilError('ERR_SPIFFE_ID_INVALID', `"${value}" has no path`)
    return id.toString()
  } catch (e) {
    return flagError(flag, e)
  }
}

/**
 * A TTL flag in seconds: a duration (`90`, `90s`, `5m`, `1h`, `2d`); with `allowZero`, `0`
 * means "the server default".
 *
 * @example
 * ttlFlag('1h', '--ttl') // 3600
 */
export function ttlFlag(value: string, flag: string, opts: { allowZero?: boolean } = {}): number {
  if (opts.allowZero && /^\s*0+\s*[smhd]?\s*$/.test(value)) return 0
  const seconds = parseDurationSeconds(value, flag)
  if (seconds > MAX_TTL_SECONDS) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `${flag}: at most ${MAX_TTL_SECONDS} seconds`)
  }
  return seconds
}

/** Selectors from repeated `--selector type:key:value` flags (each of a known kind, following its rule), in wire form. */
export function selectorFlags(values: readonly string[], flag = '--selector'): Selector[] {
  return values.map((v) => {
    try {
      return checkSelectorRule(parseSelector(v))
    } catch (e) {
      return flagError(flag, e)
    }
  })
}

/** DNS names from repeated `--dns-name` flags. */
export function dnsNameFlags(values: readonly string[], flag = '--dns-name'): string[] {
  for (const name of values) {
    const why = dnsNameProblem(name)
    if (why) throw new SigilError('ERR_INVALID_ARGUMENT', `${flag}: invalid DNS name "${echo(name)}": ${why}`)
  }
  return [...values]
}

/** Trust domain IDs (`spiffe://other.org`) from repeated `--federates-with` flags (bare names accepted). */
export function trustDomainIdFlags(values: readonly string[], flag = '--federates-with'): string[] {
  return values.map((v) => {
    try {
      if (!v.startsWith('spiffe://')) return TrustDomain.parse(v).idString()
      const id = SpiffeId.parse(v)
      if (!id.isTrustDomainId()) throw new SigilError('ERR_SPIFFE_ID_INVALID', `"${v}" must not have a path`)
      return id.toString()
    } catch (e) {
      return flagError(flag, e)
    }
  })
}
