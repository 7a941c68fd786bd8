/**
 * The Cedar schema of Sigil's world: every policy is validated against it (strict mode)
 * before it can be stored, so a policy that names an attribute or action that does not
 * exist is refused at `policy set` and never fails silently at request time.
 *
 * Identifiers: a `Workload`, `Agent` and `Identity` are named by their SPIFFE ID
 * (`Sigil::Workload::"spiffe://example.org/app"`), an `Audience` by the audience string,
 * a `Tool` by its name and a `Task` by its id. Times are Unix seconds (Long).
 */
export const SIGIL_SCHEMA = `namespace Sigil {
  // A node agent: the principal of calls the agent makes for itself.
  entity Agent = {
    spiffeId: String,
    attestationType: String,
    selectors: Set<String>,
  };

  // A process attested by an agent, as the registration entry that matched it describes it.
  entity Workload in [Agent] = {
    spiffeId: String,
    trustDomain: String,
    path: String,
    entryId: String,
    owner: String,
    purpose: String,
    risk: String,
    selectors: Set<String>,
    uid?: Long,
    executable?: String,
    scriptPath?: String,
  };

  // A task: credentials issued for one piece of work.
  entity Task = {
    id: String,
    purpose: String,
    scope: Set<String>,
    deadline: Long,
    actChain: Set<String>,
    onBehalfOf: String,
  };

  // Resources. Cedar cannot read an entity's id, so each also carries it as an attribute.
  entity Identity = {
    spiffeId: String,
    trustDomain: String,
    path: String,
  };
  entity Audience = {
    name: String,
  };
  entity Tool = {
    name: String,
  };

  // What the caller asked for, beyond principal, action and resource (Authorize, policy test).
  type RequestDetails = {
    method?: String,
    path?: String,
    host?: String,
    operation?: String,
    amount?: Long,
    labels?: Set<String>,
  };

  type RequestContext = {
    time: Long,
    hourUtc: Long,
    weekdayUtc: Long,
    inTask: Bool,
    task?: Task,
    delegationChain: Set<String>,
    delegationDepth: Long,
    audiences: Set<String>,
    request?: RequestDetails,
  };

  action FetchX509SVID appliesTo {
    principal: [Workload, Agent],
    resource: [Identity],
    context: RequestContext,
  };
  action FetchJWTSVID appliesTo {
    principal: [Workload, Agent],
    resource: [Audience],
    context: RequestContext,
  };
  action BeginTask appliesTo {
    principal: [Workload],
    resource: [Identity],
    context: RequestContext,
  };
  action FetchTaskJWTSVID appliesTo {
    principal: [Workload],
    resource: [Audience],
    context: RequestContext,
  };
  action CallTool appliesTo {
    principal: [Workload],
    resource: [Tool],
    context: RequestContext,
  };
}
`

/** The actions the schema declares (`Sigil::Action::"…"`). */
export const POLICY_ACTIONS = [
  'FetchX509SVID',
  'FetchJWTSVID',
  'BeginTask',
  'FetchTaskJWTSVID',
  'CallTool',
] as const
export type PolicyAction = (typeof POLICY_ACTIONS)[number]
