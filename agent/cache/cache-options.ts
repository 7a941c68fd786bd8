/**
 * The options of the workload identity cache, their defaults and their checks (one place), and
 * the counts it reports.
 */
import { DEFAULT_KEY_TYPE, type KeyType } from '../../certs/keys/keys.js'
import type { Log } from '../../common/logging/logger.js'
import { readProcessStartTime } from '../workloadattestation/process-start-time.js'
import type { SvidIssuer } from './authorized-state.js'
import type { Installed } from './held-svids.js'
import type { IssuanceConfig } from './issuance-loop.js'
import {
  checkRotationFraction,
  DEFAULT_RETRY_INITIAL_MS,
  DEFAULT_RETRY_MAX_MS,
  DEFAULT_ROTATION_FRACTION,
} from './rotation-policy.js'
import { DEFAULT_SPARE_SVIDS } from './spare-svids.js'

/** The start time of a PID now, or undefined when there is no such process. */
export type ProcessStartTimeReader = (
  pid: number,
) => number | bigint | undefined | Promise<number | bigint | undefined>

/** How to build a {@link WorkloadIdentityCache}. */
export interface WorkloadIdentityCacheOptions {
  readonly issuer: SvidIssuer
  readonly logger: Log
  /** Key type of workload X509-SVIDs; default ec-p256. */
  readonly keyType?: KeyType
  /** Renew when this share of the lifetime remains (±10%); default 0.5. */
  readonly rotationFraction?: number
  readonly clock?: () => Date
  /** Default: `readProcessStartTime` over `/proc`. */
  readonly procStartTime?: ProcessStartTimeReader
  /** How often liveness, expiry and renewals are checked; default 1000 ms. */
  readonly maintenanceIntervalMs?: number
  readonly retryInitialMs?: number
  readonly retryMaxMs?: number
  /** Most cached JWT-SVIDs; default 1000. */
  readonly jwtCacheSize?: number
  /** Random source in [0, 1) for jitter; default Math.random. */
  readonly random?: () => number
  /** Told after each installed workload or spare X509-SVID: new, renewed or late (metrics). */
  readonly onX509SvidInstalled?: (installed: Installed) => void
  /**
   * How many entries keep one spare X509-SVID, signed ahead with a fresh key for the next new
   * process that matches them (agent/cache/spare-svids.ts); 0 turns spares off. Default 64.
   */
  readonly spareSvids?: number
}

/** Counts for health checks and metrics. */
export interface CacheStats {
  readonly synced: boolean
  readonly processes: number
  readonly x509Svids: number
  /** Spare X509-SVIDs ready for the next new process of an entry. */
  readonly spareX509Svids: number
  readonly jwtSvids: number
  readonly subscriptions: number
}

/** Default interval of the maintenance pass (liveness, expiry, renewals). */
export const DEFAULT_MAINTENANCE_INTERVAL_MS = 1000

/** @internal The options with defaults applied; throws TypeError for bad values. */
export function resolveCacheOptions(opts: WorkloadIdentityCacheOptions): {
  cfg: IssuanceConfig
  procStartTime: ProcessStartTimeReader
  maintenanceIntervalMs: number
  spareSvids: number
} {
  if (typeof opts?.issuer?.newX509Svids !== 'function' || typeof opts.issuer.newJwtSvid !== 'function') {
    throw new TypeError('issuer must implement SvidIssuer')
  }
  if (typeof opts.logger?.warn !== 'function') throw new TypeError('logger is required')
  const maintenanceIntervalMs = opts.maintenanceIntervalMs ?? DEFAULT_MAINTENANCE_INTERVAL_MS
  const spareSvids = opts.spareSvids ?? DEFAULT_SPARE_SVIDS
  if (!(Number.isInteger(spareSvids) && spareSvids >= 0))
    throw new TypeError('spareSvids must be an integer ≥ 0')
  const retryInitialMs = opts.retryInitialMs ?? DEFAULT_RETRY_INITIAL_MS
  const retryMaxMs = opts.retryMaxMs ?? DEFAULT_RETRY_MAX_MS
  for (const [name, v] of [
    ['maintenanceIntervalMs', maintenanceIntervalMs],
    ['retryInitialMs', retryInitialMs],
    ['retryMaxMs', retryMaxMs],
  ] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw new TypeError(`${name} must be a positive number`)
  }
  return {
    cfg: {
      issuer: opts.issuer,
      logger: opts.logger,
      keyType: opts.keyType ?? DEFAULT_KEY_TYPE,
      rotationFraction: checkRotationFraction(opts.rotationFraction ?? DEFAULT_ROTATION_FRACTION),
      clock: opts.clock ?? (() => new Date()),
      retryInitialMs,
      retryMaxMs: Math.max(retryInitialMs, retryMaxMs),
      random: opts.random ?? Math.random,
      ...(opts.onX509SvidInstalled ? { onInstalled: opts.onX509SvidInstalled } : {}),
    },
    procStartTime: opts.procStartTime ?? ((pid) => readProcessStartTime(pid)),
    maintenanceIntervalMs,
    spareSvids,
  }
}
