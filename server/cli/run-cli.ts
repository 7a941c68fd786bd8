/** Subcommand table of `sigil-server` (see main.ts), dispatched by the shared `createCli`. */
import { createCli } from '../../common/cli/create-cli.js'

/**
 * Runs one `sigil-server` invocation and returns its exit code.
 *
 * @example
 * process.exitCode = await runCli(['entry', 'count'], { stdout, stderr, env: process.env })
 */
export const runCli = createCli({
  name: 'sigil-server',
  version: true,
  commands: {
    run: { summary: 'Run the server', load: () => import('./commands/run.js') },
    validate: {
      summary: 'validate --config F: check a configuration file without starting',
      load: () => import('./commands/validate.js'),
    },
    token: { summary: 'token generate: create a join token', load: () => import('./commands/token.js') },
    entry: {
      summary: 'entry create|show|update|delete|count: manage registration entries',
      load: () => import('./commands/entry.js'),
    },
    agent: {
      summary: 'agent list|show|count|evict|ban: manage attested agents',
      load: () => import('./commands/agent.js'),
    },
    bundle: {
      summary: 'bundle show|list|set|delete|count: our trust bundle and federated bundles',
      load: () => import('./commands/bundle.js'),
    },
    federation: {
      summary: 'federation create|list|show|update|delete|refresh: federate with other trust domains',
      load: () => import('./commands/federation.js'),
    },
    x509: { summary: 'x509 mint: mint an X509-SVID', load: () => import('./commands/x509.js') },
    jwt: { summary: 'jwt mint: mint a JWT-SVID', load: () => import('./commands/jwt.js') },
    wit: { summary: 'wit mint: mint a WIT-SVID and its key', load: () => import('./commands/wit.js') },
    svid: {
      summary: 'svid list|revoke|explain: show the issuance record, revoke SVIDs, explain one',
      load: () => import('./commands/svid.js'),
    },
    revocation: {
      summary: 'revocation list: show the revocation list',
      load: () => import('./commands/revocation.js'),
    },
    task: {
      summary: 'task list|show|end: tasks and their credentials',
      load: () => import('./commands/task.js'),
    },
    policy: {
      summary: 'policy set|show|history|test: the Cedar policy set',
      load: () => import('./commands/policy.js'),
    },
    audit: {
      summary: 'audit list|verify: the hash-chained audit trail',
      load: () => import('./commands/audit.js'),
    },
    approval: {
      summary: 'approval list|approve|deny: human approval of held requests',
      load: () => import('./commands/approval.js'),
    },
    localauthority: {
      summary: 'localauthority x509|jwt show|prepare|activate|taint|revoke: forced rotation',
      load: () => import('./commands/localauthority.js'),
    },
    logger: {
      summary: "logger get|set|reset: the running server's log level",
      load: () => import('./commands/logger.js'),
    },
    healthcheck: {
      summary: 'Check that the server is healthy',
      load: () => import('./commands/healthcheck.js'),
    },
  },
})
