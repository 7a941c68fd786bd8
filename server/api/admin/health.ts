/**
 * Admin handler for `healthcheck`: serving when the CA can sign (both signers usable,
 * rotation not failing repeatedly) and the datastore answers and is consistent. The full
 * datastore integrity check is cached for {@link INTEGRITY_CHECK_INTERVAL_MS} so a
 * frequent health probe stays cheap; a cheap read runs on every call, and so does the
 * storage write probe, so a full disk turns the server unhealthy while writes fail and
 * healthy again once space returns.
 */

import { errorText } from '../../../common/errors/error-text.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { unary } from './unary.js'

/** How long a datastore integrity check result is reused. */
export const INTEGRITY_CHECK_INTERVAL_MS = 60_000

/** The handler for `healthcheck`. */
export function healthHandlers(deps: AdminApiDeps): Pick<AdminAPIHandlers, 'Health'> {
  const { ca, datastore, logger, clock } = deps
  let integrity: { at: number; problem: string | undefined } | undefined

  const integrityProblem = async (): Promise<string | undefined> => {
    const now = clock().getTime()
    if (integrity && now - integrity.at < INTEGRITY_CHECK_INTERVAL_MS && now >= integrity.at) {
      return integrity.problem
    }
    let problem: string | undefined
    try {
      await datastore.integrityCheck()
    } catch (e) {
      problem = `datastore: ${errorText(e)}`
    }
    integrity = { at: now, problem }
    return problem
  }

  return {
    Health: unary('Health', logger, async () => {
      const problems: string[] = []
      const caHealth = ca.health()
      if (!caHealth.ok) {
        problems.push(
          `ca: not ready (${caHealth.consecutiveFailures} consecutive rotation failures${
            caHealth.lastError ? `; last: ${caHealth.lastError}` : ''
          })`,
        )
      }
      try {
        await datastore.countEntries()
        const problem = await integrityProblem()
        if (problem) problems.push(problem)
      } catch (e) {
        problems.push(`datastore: ${errorText(e)}`)
      }
      const storage = await deps.storageProbe?.()
      if (storage) problems.push(storage)
      if (problems.length > 0) logger.warn({ problems }, 'health check failing')
      return { serving: problems.length === 0, problems }
    }),
  }
}
