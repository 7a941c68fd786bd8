/**
 * The fixed texts the Workload API puts in a status's details, in a module of their own so
 * that `sigil-agent healthcheck` can expect one without loading gRPC or the handlers.
 */

/** Details of PERMISSION_DENIED when attestation fails. */
export const ATTESTATION_FAILED = 'workload attestation failed'
/** The reason for a JWT-SVID call without an audience; `sigil-agent healthcheck` probes for it. */
export const AUDIENCE_REQUIRED = 'audience must be specified'

/** Details of PERMISSION_DENIED when the caller has no identity (SPIRE's wording). */
export const NO_IDENTITY = 'no identity issued'
