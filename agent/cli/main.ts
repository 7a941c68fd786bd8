#!/usr/bin/env node
/**
 * `sigil-agent` entry point: dispatches to one subcommand module, imported lazily so
 * `sigil-agent api fetch jwt` never loads the agent itself. Exit codes: 0 success, 1 the
 * request failed or was refused, 2 usage or invalid input.
 */
import { runCli } from './run-cli.js'

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
})
