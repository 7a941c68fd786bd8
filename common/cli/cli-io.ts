/**
 * What every CLI command of both binaries runs with — its streams, environment and stop
 * signal — and the exit codes: 0 success, 1 the request failed or was refused, 2 usage or
 * invalid input.
 */

/** Where a command writes and what it reads from its environment. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  readonly env: Record<string, string | undefined>
  /** Ends long-running commands (`run`, `api watch`); default: SIGTERM or SIGINT. */
  readonly signal?: AbortSignal
  /** Standard input (`--svid -`); default: the process's. */
  readonly stdin?: NodeJS.ReadableStream
}

/** A command module's shape: run with the arguments after the command words. */
export interface CliCommand {
  run(args: string[], io: CliIo): Promise<number>
}

/** Exit code: success. */
export const EXIT_OK = 0
/** Exit code: the request failed or was refused. */
export const EXIT_FAILED = 1
/** Exit code: usage error or invalid input. */
export const EXIT_USAGE = 2

/** A usage mistake (unknown option, missing required option): exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
