/**
 * Checks an Authorize request's form (INVALID_ARGUMENT on anything malformed) and turns it into
 * what the decision needs: the credentials, the Cedar action and resource, request details.
 */
import { status } from '@grpc/grpc-js'
import type { EntityJson } from '../../common/policy/policy-engine.js'
import {
  audienceEntity,
  identityEntity,
  parseRequestDetails,
  type RequestDetails,
  toolEntity,
} from '../../common/policy/policy-entities.js'
import { POLICY_ACTIONS, type PolicyAction } from '../../common/policy/sigil-schema.js'
import type { AuthorizeRequest__Output } from '../../proto/generated/sigil/authz/v1/AuthorizeRequest.js'
import { WorkloadApiStatus } from '../workloadapi/workload-api-status.js'

/** Longest JWT-SVID, Txn-Token or context accepted (characters). */
export const MAX_TOKEN_CHARS = 64 * 1024
/** Longest resource id or audience (characters). */
export const MAX_ID_CHARS = 2048
/** Most certificates in a presented chain. */
export const MAX_CHAIN_CERTS = 16

/** The resource types and the actions that take each (SIGIL_SCHEMA). */
const RESOURCE_TYPES = {
  Tool: { actions: ['CallTool'], entity: toolEntity },
  Audience: { actions: ['FetchJWTSVID', 'FetchTaskJWTSVID'], entity: audienceEntity },
  Identity: { actions: ['FetchX509SVID', 'BeginTask'], entity: identityEntity },
} as const satisfies Record<string, { actions: readonly PolicyAction[]; entity: (id: string) => EntityJson }>

type ResourceType = keyof typeof RESOURCE_TYPES

/** A well-formed Authorize request. */
export interface CheckedAuthorizeRequest {
  readonly jwtSvid: string
  readonly txnToken: string
  readonly x509SvidChain: readonly Buffer[]
  readonly audience: string
  readonly action: PolicyAction
  readonly resource: EntityJson
  /** `Sigil::Tool::"payments"`: how an approval names the resource. */
  readonly resourceText: string
  readonly resourceType: ResourceType
  readonly resourceId: string
  readonly request?: RequestDetails
}

function invalid(message: string): never {
  throw new WorkloadApiStatus(status.INVALID_ARGUMENT, message)
}

/**
 * Checks the request; throws INVALID_ARGUMENT naming the first problem.
 *
 * @example
 * const req = checkAuthorizeRequest(call.request)
 */
export function checkAuthorizeRequest(req: AuthorizeRequest__Output): CheckedAuthorizeRequest {
  const c = req.credentials
  const jwtSvid = c?.jwt_svid ?? ''
  const txnToken = c?.txn_token ?? ''
  const chain = (c?.x509_svid_chain ?? []).map((b) => Buffer.from(b))
  const audience = c?.audience ?? ''
  if (jwtSvid === '' && txnToken === '' && chain.length === 0)
    invalid('credentials: give a jwt_svid, a txn_token or an x509_svid_chain')
  if (jwtSvid.length > MAX_TOKEN_CHARS || txnToken.length > MAX_TOKEN_CHARS)
    invalid(`credentials: tokens are at most ${MAX_TOKEN_CHARS} characters`)
  if (chain.length > MAX_CHAIN_CERTS) invalid(`credentials: at most ${MAX_CHAIN_CERTS} certificates`)
  if (audience.length > MAX_ID_CHARS)
    invalid(`credentials.audience is longer than ${MAX_ID_CHARS} characters`)
  const action = (req.action === '' ? 'CallTool' : req.action) as PolicyAction
  if (!POLICY_ACTIONS.includes(action))
    invalid(`action "${req.action.slice(0, 64)}" is not one of ${POLICY_ACTIONS.join(', ')}`)
  const typeGiven = req.resource?.type ?? ''
  const defaultType = (Object.keys(RESOURCE_TYPES) as ResourceType[]).find((t) =>
    (RESOURCE_TYPES[t].actions as readonly string[]).includes(action),
  )!
  const resourceType = (typeGiven === '' ? defaultType : typeGiven) as ResourceType
  if (!(resourceType in RESOURCE_TYPES))
    invalid(
      `resource.type "${typeGiven.slice(0, 64)}" is not one of ${Object.keys(RESOURCE_TYPES).join(', ')}`,
    )
  if (!(RESOURCE_TYPES[resourceType].actions as readonly string[]).includes(action))
    invalid(`action ${action} does not apply to a ${resourceType} (it takes a ${defaultType})`)
  const resourceId = req.resource?.id ?? ''
  if (resourceId === '') invalid('resource.id is required')
  if (resourceId.length > MAX_ID_CHARS) invalid(`resource.id is longer than ${MAX_ID_CHARS} characters`)
  if (req.context_json.length > MAX_TOKEN_CHARS)
    invalid(`context_json is longer than ${MAX_TOKEN_CHARS} characters`)
  let request: RequestDetails | undefined
  if (req.context_json.trim() !== '') {
    try {
      request = parseRequestDetails(req.context_json)
    } catch (e) {
      invalid(`context_json: ${(e as Error).message}`)
    }
  }
  return {
    jwtSvid,
    txnToken,
    x509SvidChain: chain,
    audience,
    action,
    resource: RESOURCE_TYPES[resourceType].entity(resourceId),
    resourceText: `Sigil::${resourceType}::${JSON.stringify(resourceId)}`,
    resourceType,
    resourceId,
    ...(request ? { request } : {}),
  }
}
