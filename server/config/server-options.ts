/**
 * The one option table of `sigil-server run`. It drives flag parsing, `SIGIL_*`
 * environment variables, config-file keys (the same kebab-case names; snake_case is
 * accepted too), `--help` and the README's configuration section
 * (`sigil-server run --help-markdown`). Precedence: defaults < file < env < flags.
 */
import { jack } from 'jackspeak'

/** Builds the option table; `env` is read for `SIGIL_*` values (a copy, never mutated back). */
export function serverOptions(env: Record<string, string | undefined>) {
  return jack({
    envPrefix: 'SIGIL',
    env: { ...env },
    allowPositionals: false,
    usage: 'sigil-server run [options]',
  })
    .heading('sigil-server run')
    .description(
      'Runs the Sigil server: the certificate authority, the registry (SQLite), the agent API, the admin API on a local Unix socket and the HTTPS bundle endpoint.',
    )
    .opt({
      config: {
        hint: 'file',
        description: 'Configuration file (JSON or TOML) with any of the options below',
      },
      'trust-domain': {
        hint: 'name',
        default: 'example.org',
        description: 'Trust domain this server issues for',
      },
      'data-dir': {
        hint: 'dir',
        default: './.sigil/server',
        description: 'Directory for the datastore, CA keys (0600) and the admin socket',
      },
      'agent-api-address': {
        hint: 'host:port',
        default: '127.0.0.1:8081',
        description: 'Agent API listen address (gRPC over TLS). Port 0 picks a free port',
      },
      'admin-socket': {
        hint: 'path',
        description:
          'Admin API Unix socket (default <data-dir>/private/admin.sock; directory 0700, socket 0600)',
      },
      'bundle-endpoint-address': {
        hint: 'host:port',
        default: '127.0.0.1:8443',
        description: 'HTTPS bundle endpoint listen address; "off" disables it',
      },
      'bundle-endpoint-profile': {
        hint: 'profile',
        default: 'https_web',
        validOptions: ['https_web', 'https_spiffe'],
        description:
          'https_web: serve with --bundle-endpoint-cert/--bundle-endpoint-key (a self-signed pair is generated when unset); https_spiffe: serve with the server X509-SVID',
      },
      'bundle-endpoint-cert': {
        hint: 'file',
        description: 'PEM certificate chain for the https_web profile',
      },
      'bundle-endpoint-key': { hint: 'file', description: 'PEM private key for the https_web profile' },
      'bundle-refresh-hint': {
        hint: 'duration',
        default: '5m',
        description: 'spiffe_refresh_hint published in the bundle',
      },
      'x509-svid-ttl': { hint: 'duration', default: '1h', description: 'Default X509-SVID lifetime' },
      'jwt-svid-ttl': { hint: 'duration', default: '5m', description: 'Default JWT-SVID lifetime' },
      'agent-svid-ttl': { hint: 'duration', default: '1h', description: 'Lifetime of agent X509-SVIDs' },
      'ca-ttl': {
        hint: 'duration',
        default: '24h',
        description: 'Lifetime of each X.509 CA and JWT signing key (rotated at 1/2, activated at 5/6)',
      },
      'ca-key-type': {
        hint: 'type',
        default: 'ec-p256',
        validOptions: ['ec-p256', 'ec-p384', 'rsa-2048'],
        description: 'X.509 CA key type',
      },
      'jwt-key-type': {
        hint: 'type',
        default: 'ec-p256',
        validOptions: ['ec-p256', 'ec-p384', 'rsa-2048'],
        description: 'JWT signing key type (ES256, ES384, RS256)',
      },
      'jwt-issuer': { hint: 'url', description: 'iss claim of JWT-SVIDs (unset: no iss)' },
      'upstream-ca-cert': {
        hint: 'file',
        description: 'PEM upstream CA certificate; the server CA becomes an intermediate signed by it',
      },
      'upstream-ca-key': { hint: 'file', description: 'PEM private key of the upstream CA (0600)' },
      'x509pop-ca': {
        hint: 'file',
        description: 'PEM CA certificates that x509pop agent certificates must chain to (unset: x509pop off)',
      },
      'join-token-ttl': { hint: 'duration', default: '10m', description: 'Default join token lifetime' },
      'log-level': {
        hint: 'level',
        default: 'info',
        validOptions: ['debug', 'info', 'warn', 'error'],
        description: 'Log level (JSON lines on stdout)',
      },
    })
    .flag({
      help: { short: 'h', description: 'Print this help' },
      'help-markdown': { description: 'Print the option table as Markdown (for the README)' },
    })
}
