/**
 * Admin handlers for `logger get|set|reset`: the running server's log level (SPIRE's
 * `logger` commands). The change lives only in memory; a restart uses the configured level.
 */
import { SigilError } from '../../../certs/errors.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { unary } from './unary.js'

/** The levels `logger set` accepts (those of `--log-level`). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const

/** The running logger's level, as the admin API changes it (a pino logger's `level` fits). */
export interface LogLevelControl {
  /** The current level. */
  level: string
  /** The level the daemon was started with. */
  readonly launchLevel: string
}

/** The `logger` handlers; without `deps.logLevel` they answer UNAVAILABLE. */
export function loggerHandlers(
  deps: AdminApiDeps,
): Pick<AdminAPIHandlers, 'GetLogger' | 'SetLogLevel' | 'ResetLogLevel'> {
  const control = (): LogLevelControl => {
    if (!deps.logLevel) throw new SigilError('ERR_UNAVAILABLE', 'this server has no adjustable logger')
    return deps.logLevel
  }
  const answer = (c: LogLevelControl) => ({ current_level: c.level, launch_level: c.launchLevel })
  // logged (warn) while the more verbose of the two levels applies, so that raising the level to
  // `error` (hiding what follows) still leaves its trace in the log
  const set = (c: LogLevelControl, level: string) => {
    const before = c.level
    const rank = (l: string) => (LOG_LEVELS as readonly string[]).indexOf(l)
    const log = () =>
      deps.logger.warn({ new_level: level, previous_level: before }, 'log level changed by an operator')
    if (rank(level) >= rank(before)) log()
    c.level = level
    if (rank(level) < rank(before)) log()
  }
  return {
    GetLogger: unary('GetLogger', deps.logger, async () => answer(control())),
    SetLogLevel: unary('SetLogLevel', deps.logger, async (req) => {
      const c = control()
      if (!(LOG_LEVELS as readonly string[]).includes(req.level)) {
        throw new SigilError('ERR_INVALID_ARGUMENT', `level must be one of ${LOG_LEVELS.join(', ')}`)
      }
      set(c, req.level)
      return answer(c)
    }),
    ResetLogLevel: unary('ResetLogLevel', deps.logger, async () => {
      const c = control()
      set(c, c.launchLevel)
      return answer(c)
    }),
  }
}
