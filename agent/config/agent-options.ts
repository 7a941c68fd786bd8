/**
 * The one option table of `sigil-agent run`: flags, `SIGIL_*` environment variables,
 * config-file keys (same kebab-case names; snake_case accepted), `--help`, and the
 * README's configuration section. Precedence: defaults < file < env < flags.
 */
import { jack } from 'jackspeak'

/** Builds the option table; `env` is read for `SIGIL_*` values (a copy, never written back). */
export function agentOptions(env: Record<string, string | undefined>) {
  return jack({
    envPrefix: 'SIGIL',
    env: { ...env },
    allowPositionals: false,
    usage: 'sigil-agent run [options]',
  })
    .heading('sigil-agent run')
    .description(
      'Runs the Sigil agent: attests this node to the server, then serves per-process SVIDs over the SPIFFE Workload API on a Unix socket.',
    )
    .opt({
      config: {
        hint: 'file',
        description: 'Configuration file (JSON or TOML) with any of the options below',
      },
      'server-address': {
        hint: 'host:port',
        default: '127.0.0.1:8081',
        description: "The server's agent API",
      },
      'trust-domain': { hint: 'name', default: 'example.org', description: 'Trust domain of the server' },
      'join-token': { hint: 'token', description: 'Join token for join_token node attestation (single use)' },
      'x509pop-cert': { hint: 'file', description: 'PEM certificate chain for x509pop node attestation' },
      'x509pop-key': { hint: 'file', description: 'PEM private key for x509pop node attestation' },
      'trust-bundle': {
        hint: 'file',
        description:
          "PEM bundle used to authenticate the server on first contact (e.g. from 'sigil-server bundle show')",
      },
      'socket-path': {
        hint: 'path',
        default: '/tmp/sigil-agent/public/api.sock',
        description: 'Workload API Unix socket',
      },
      'data-dir': {
        hint: 'dir',
        default: './.sigil/agent',
        description: 'Directory for the agent SVID, its key (0600) and the cached bundle',
      },
      'sync-interval': {
        hint: 'duration',
        default: '5s',
        description: 'How often to sync entries with the server',
      },
      'rotation-fraction': {
        hint: 'fraction',
        default: '0.5',
        description: 'Renew an SVID when this fraction of its lifetime remains (±10% jitter)',
      },
      'workload-key-type': {
        hint: 'type',
        default: 'ec-p256',
        validOptions: ['ec-p256', 'ec-p384', 'rsa-2048'],
        description: 'Key type of workload X509-SVIDs',
      },
      'log-level': {
        hint: 'level',
        default: 'info',
        validOptions: ['debug', 'info', 'warn', 'error'],
        description: 'Log level (JSON lines on stdout)',
      },
    })
    .flag({
      'insecure-bootstrap': {
        description:
          'Trust the server on first contact without a bundle (INSECURE: for local development only)',
      },
      help: { short: 'h', description: 'Print this help' },
      'help-markdown': { description: 'Print the option table as Markdown (for the README)' },
    })
}
