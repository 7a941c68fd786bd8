/**
 * SPIRE's camelCase single-dash flags (`-spiffeID`, `-parentID`, `-socketPath`, …), declared
 * once for every command of both binaries. A SPIRE flag whose meaning a command's Sigil option
 * shares is an alias of it (`-spiffeID X` is `--spiffe-id X`); any other is refused with a
 * message naming the Sigil option to use — never "unexpected argument". Names are from SPIRE's
 * `spire-server` and `spire-agent` commands (Go `flag`: `-name value`, `-name=value`, also
 * `--name`). SPIRE's TTLs are seconds; Sigil's durations take bare seconds too.
 */
import { echo } from '../../certs/lib/echo.js'
import { UsageError } from './cli-io.js'

/** What a SPIRE flag means in Sigil. */
export interface SpireFlag {
  /** The Sigil options of the same meaning; the first one the command takes is used. */
  readonly sigil: readonly string[]
  /** When no option of the command fits: what to use instead. */
  readonly instead?: string
}

const same = (...sigil: string[]): SpireFlag => ({ sigil })
const none = (instead: string): SpireFlag => ({ sigil: [], instead })

/** SPIRE flag name (without the dash) → its Sigil meaning. */
export const SPIRE_FLAGS: Readonly<Record<string, SpireFlag>> = {
  spiffeID: same('spiffe-id'),
  parentID: same('parent-id'),
  selector: same('selector'),
  entryID: same('entry-id'),
  x509SVIDTTL: same('x509-svid-ttl'),
  jwtSVIDTTL: same('jwt-svid-ttl'),
  ttl: { sigil: ['ttl'], instead: 'use --x509-svid-ttl and --jwt-svid-ttl' },
  dns: same('dns-name'),
  federatesWith: same('federates-with'),
  hint: same('hint'),
  admin: same('admin'),
  node: same('node'),
  output: same('output'),
  socketPath: same('socket-path', 'admin-socket'),
  audience: same('audience'),
  timeout: same('timeout'),
  write: same('write'),
  svid: same('svid'),
  format: same('format'),
  config: same('config'),
  logLevel: same('log-level'),
  trustDomain: same('trust-domain'),
  dataDir: same('data-dir'),
  trustBundle: same('trust-bundle'),
  joinToken: same('join-token'),
  insecureBootstrap: same('insecure-bootstrap'),
  matchSelectorsOn: same('match-selectors-on'),
  attestationType: same('attestation-type'),
  banned: same('banned'),
  expiredFor: same('expired-for'),
  dryRun: same('dry-run'),
  canReattest: none(
    'Sigil stores no can-reattest field: evicted agents may attest again, banned ones may not (agent list --banned)',
  ),
  serverAddress: none(
    "use --server-address HOST:PORT (one option for SPIRE's -serverAddress and -serverPort)",
  ),
  serverPort: none('use --server-address HOST:PORT'),
  bindAddress: none('use --agent-api-address HOST:PORT'),
  data: same('data'),
  // bundle and federation (issue 16 items 3 and 4)
  id: same('id', 'trust-domain'),
  path: same('path'),
  mode: same('mode'),
  bundleEndpointURL: same('bundle-endpoint-url'),
  bundleEndpointProfile: same('bundle-endpoint-profile'),
  endpointSpiffeID: same('endpoint-spiffe-id'),
  trustDomainBundlePath: same('trust-domain-bundle'),
  trustDomainBundleFormat: same('trust-domain-bundle-format'),
  file: same('file'),
  entryExpiry: same('entry-expiry'),
  authorityID: same('authority-id'),
  level: same('level'),
  downstream: none('Sigil has no downstream servers'),
  storeSVID: none('Sigil has no SVIDStore plugins'),
  matchFederatesWithOn: none(
    "entry show --federates-with keeps entries federating with every given domain (SPIRE's superset)",
  ),
  expandEnv: none('the configuration file is read as is; use SIGIL_* environment variables'),
  shallow: none('healthcheck always checks the whole service'),
  verbose: none('use --output json for details'),
  silent: none('use --output json'),
}

/**
 * The Sigil spelling of `arg` when it is a SPIRE flag (`-name[=value]` or `--name[=value]`)
 * that is an alias of one of the command's `options`; undefined when `arg` is not a SPIRE-style
 * word. Throws a UsageError for a SPIRE flag without a meaning here (naming the Sigil option)
 * and for any other single-dash word.
 *
 * @example
 * spireAlias('-spiffeID', new Set(['spiffe-id'])) // '--spiffe-id'
 */
export function spireAlias(arg: string, options: ReadonlySet<string>): string | undefined {
  const m = /^--?([A-Za-z][A-Za-z0-9]*)(=.*)?$/s.exec(arg)
  if (!m) return undefined
  const [, name = '', value = ''] = m
  // `--name` is a SPIRE flag only when camelCase (`--spiffeID`); `--selector` is Sigil's own.
  if (arg.startsWith('--') && (options.has(name) || !/[A-Z]/.test(name))) return undefined
  const flag = Object.hasOwn(SPIRE_FLAGS, name) ? SPIRE_FLAGS[name] : undefined
  if (!flag) {
    if (arg.startsWith('--') || name.length === 1) return undefined
    throw new UsageError(`unknown option -${echo(name)} (Sigil's options are --kebab-case)`)
  }
  const sigil = flag.sigil.find((s) => options.has(s))
  if (sigil !== undefined) return `--${sigil}${value}`
  const dash = arg.startsWith('--') ? '--' : '-'
  if (flag.instead) throw new UsageError(`SPIRE's ${dash}${name} is not an option here: ${flag.instead}`)
  throw new UsageError(
    `SPIRE's ${dash}${name} is Sigil's --${flag.sigil[0]}, which this command does not take`,
  )
}
