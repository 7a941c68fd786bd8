/** Subcommand table of `sigil-agent` (see main.ts), dispatched by the shared `createCli`. */
import { createCli } from '../../common/cli/create-cli.js'

/**
 * Runs one `sigil-agent` invocation and returns its exit code.
 *
 * @example
 * process.exitCode = await runCli(['api', 'fetch', 'x509'], { stdout, stderr, env: process.env })
 */
export const runCli = createCli({
  name: 'sigil-agent',
  version: true,
  commands: {
    run: { summary: 'Run the agent', load: () => import('./commands/run.js') },
    api: {
      summary: 'api fetch x509|fetch jwt|validate jwt|watch: call the Workload API',
      load: () => import('./commands/api.js'),
    },
    healthcheck: {
      summary: 'Check that the agent answers on its Workload API socket',
      load: () => import('./commands/healthcheck.js'),
    },
  },
})
