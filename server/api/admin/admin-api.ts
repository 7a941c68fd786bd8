/**
 * The admin API (`sigil.admin.v1.AdminAPI`): what `sigil-server <command>` calls over the
 * server's local Unix socket. One file per area (entries, agents, tokens, bundle, mint,
 * svids, health); this file assembles them.
 *
 * Trust: callers are whoever can open the 0600 socket in its 0700 directory, i.e. the
 * server's own user (and root); they are operators and may do anything here. Their input
 * is still untrusted in form: every field is validated (SPIFFE IDs in our trust domain,
 * selectors, TTLs, DNS names, CSRs) before it reaches the CA or the datastore, and errors
 * leave only through `toGrpcError`. Keys never cross the socket; join tokens are stored
 * only as hashes and are never logged.
 */
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { agentHandlers } from './agents.js'
import { approvalHandlers } from './approvals.js'
import { auditHandlers } from './audit.js'
import { bundleHandlers } from './bundle.js'
import { entryHandlers } from './entries.js'
import { federationHandlers } from './federation.js'
import { healthHandlers } from './health.js'
import { localAuthorityHandlers } from './local-authorities.js'
import { loggerHandlers } from './logger-level.js'
import { mintHandlers } from './mint.js'
import { policyHandlers } from './policies.js'
import { revocationHandlers } from './revocations.js'
import { svidHandlers } from './svids.js'
import { taskHandlers } from './tasks.js'
import { tokenHandlers } from './tokens.js'

export type { AdminApiDeps, AdminCa, AdminDataStore, AdminRevocations } from './admin-api-deps.js'

/**
 * Builds every admin API handler.
 *
 * @example
 * server.addService(loadAdminApi().service, createAdminApiHandlers({ trustDomain, datastore, ca,
 *   logger, clock: () => new Date(), joinTokenTtlSeconds: 600, defaultX509SvidTtlSeconds: 3600,
 *   defaultJwtSvidTtlSeconds: 300 }))
 */
export function createAdminApiHandlers(deps: AdminApiDeps): AdminAPIHandlers {
  checkDeps(deps)
  return {
    ...tokenHandlers(deps),
    ...entryHandlers(deps),
    ...agentHandlers(deps),
    ...bundleHandlers(deps),
    ...mintHandlers(deps),
    ...svidHandlers(deps),
    ...revocationHandlers(deps),
    ...healthHandlers(deps),
    ...taskHandlers(deps),
    ...approvalHandlers(deps),
    ...federationHandlers(deps),
    ...auditHandlers(deps),
    ...policyHandlers(deps),
    ...localAuthorityHandlers(deps),
    ...loggerHandlers(deps),
  }
}

function checkDeps(deps: AdminApiDeps): void {
  if (typeof deps !== 'object' || deps === null) throw new TypeError('admin API deps must be an object')
  if (typeof deps.clock !== 'function') throw new TypeError('clock must be a function returning a Date')
  for (const name of [
    'joinTokenTtlSeconds',
    'defaultX509SvidTtlSeconds',
    'defaultJwtSvidTtlSeconds',
  ] as const) {
    const v = deps[name]
    if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`${name} must be a positive whole number`)
  }
}
