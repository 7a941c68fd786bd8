/**
 * The one loader for Sigil's wire contracts (STYLE.md habit 12): every gRPC
 * service Sigil serves or calls is loaded here, from the `.proto` files in this
 * folder, with one fixed set of options that matches the committed types in
 * `proto/generated/` (regenerate those with `proto/generate.sh`).
 *
 * Trust: this module only describes message shapes. It authenticates nothing
 * and validates no content; every decoded message is untrusted input for the
 * handler that receives it. The `.proto` files are read from the package's own
 * `proto/` folder, found by walking up from this file to the folder holding
 * `package.json`, so it works from the TypeScript sources and from
 * `dist/proto/loader.js` alike (tsc does not copy `.proto` files).
 */
import { existsSync } from 'node:fs'
import { dirname, isAbsolute, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type GrpcObject, loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js'
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader'
import type { ProtoGrpcType as AdminProto } from './generated/admin.js'
import type { ProtoGrpcType as AgentProto } from './generated/agent.js'
import type { ProtoGrpcType as AuthzProto } from './generated/authz.js'
import type { ProtoGrpcType as TaskProto } from './generated/task.js'
import type { ProtoGrpcType as WorkloadProto } from './generated/workload.js'

export type {
  SpiffeWorkloadAPIClient,
  SpiffeWorkloadAPIDefinition,
  SpiffeWorkloadAPIHandlers,
} from './generated/SpiffeWorkloadAPI.js'
export type {
  AdminAPIClient,
  AdminAPIDefinition,
  AdminAPIHandlers,
} from './generated/sigil/admin/v1/AdminAPI.js'
export type {
  AgentAPIClient,
  AgentAPIDefinition,
  AgentAPIHandlers,
} from './generated/sigil/agent/v1/AgentAPI.js'
export type {
  AuthorizerClient,
  AuthorizerDefinition,
  AuthorizerHandlers,
} from './generated/sigil/authz/v1/Authorizer.js'
export type { TasksClient, TasksDefinition, TasksHandlers } from './generated/sigil/task/v1/Tasks.js'

/** The `.proto` files Sigil ships, relative to the `proto/` folder. */
export const PROTO_FILES = [
  'spiffe/workload/workload.proto',
  'sigil/common/v1/types.proto',
  'sigil/agent/v1/agent.proto',
  'sigil/admin/v1/admin.proto',
  'sigil/task/v1/task.proto',
  'sigil/authz/v1/authz.proto',
] as const

/** One of {@link PROTO_FILES}. */
export type ProtoFile = (typeof PROTO_FILES)[number]

/**
 * The fixed proto-loader options (`includeDirs` is added per load). They match
 * the flags in `proto/generate.sh`: snake_case field names as in the `.proto`,
 * 64-bit integers as JS numbers, enums as strings, defaults filled in, and a
 * virtual field naming the set member of each oneof.
 */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
})

const MARKER = join('proto', 'spiffe', 'workload', 'workload.proto')

/**
 * Absolute path of the `proto/` folder: the nearest ancestor of `from` that
 * holds `package.json` and `proto/spiffe/workload/workload.proto`.
 *
 * @example
 * protoRoot() // '/opt/sigil/proto', from sources or from dist/
 */
export function protoRoot(from: string = import.meta.url): string {
  let dir = dirname(from.startsWith('file:') ? fileURLToPath(from) : from)
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, MARKER))) return join(dir, 'proto')
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`no package folder with ${MARKER} above ${from}`)
    dir = parent
  }
}

/**
 * Loads one `.proto` file (and its imports, including `google/protobuf/*`,
 * which protobufjs bundles) with the fixed options.
 *
 * @example
 * const def = loadProto('sigil/agent/v1/agent.proto')
 * def['sigil.agent.v1.AgentAPI'] // the service's method definitions
 */
export function loadProto(relPath: ProtoFile, root: string = protoRoot()): PackageDefinition {
  if (typeof relPath !== 'string' || isAbsolute(relPath) || normalize(relPath).split(sep).includes('..')) {
    throw new TypeError(`proto path must be relative to the proto folder: ${String(relPath)}`)
  }
  return loadSync(relPath, { ...PROTO_LOADER_OPTIONS, includeDirs: [root] })
}

/** A gRPC service constructor as `loadPackageDefinition` returns it. */
interface ServiceConstructor {
  service: ServiceDefinition
}

/** A loaded service: what a server registers and what a client instantiates. */
export interface ServiceApi<C extends ServiceConstructor> {
  /** Client constructor: `new api.Client('unix:///path/to.sock', credentials)`. */
  readonly Client: C
  /** Method definitions for `server.addService(api.service, handlers)`. */
  readonly service: C['service']
  /** The raw package definition (message and service descriptors). */
  readonly packageDefinition: PackageDefinition
}

/** The SPIFFE Workload API (`SpiffeWorkloadAPI`, no package). */
export type WorkloadApi = ServiceApi<WorkloadProto['SpiffeWorkloadAPI']>
/** Sigil's server<->agent API (`sigil.agent.v1.AgentAPI`). */
export type AgentApi = ServiceApi<AgentProto['sigil']['agent']['v1']['AgentAPI']>
/** Sigil's local admin API (`sigil.admin.v1.AdminAPI`). */
export type AdminApi = ServiceApi<AdminProto['sigil']['admin']['v1']['AdminAPI']>
/** Sigil's Task API on the agent socket (`sigil.task.v1.Tasks`). */
export type TaskApi = ServiceApi<TaskProto['sigil']['task']['v1']['Tasks']>
/** Sigil's Authorize API on the agent socket (`sigil.authz.v1.Authorizer`). */
export type AuthzApi = ServiceApi<AuthzProto['sigil']['authz']['v1']['Authorizer']>

function loadService<C extends ServiceConstructor>(
  file: ProtoFile,
  servicePath: readonly string[],
  root: string,
): ServiceApi<C> {
  const packageDefinition = loadProto(file, root)
  let node: unknown = loadPackageDefinition(packageDefinition)
  for (const name of servicePath) {
    node = typeof node === 'object' || typeof node === 'function' ? (node as GrpcObject)[name] : undefined
  }
  if (typeof node !== 'function' || !('service' in node)) {
    throw new Error(`${file} does not define service ${servicePath.join('.')}`)
  }
  // The generated ProtoGrpcType describes exactly what loadPackageDefinition builds from this file.
  const Client = node as unknown as C
  return { Client, service: Client.service, packageDefinition }
}

/**
 * Loads the SPIFFE Workload API.
 *
 * @example
 * const api = loadWorkloadApi()
 * server.addService(api.service, handlers) // handlers: SpiffeWorkloadAPIHandlers
 * const client = new api.Client('unix:///tmp/agent.sock', credentials.createInsecure())
 */
export function loadWorkloadApi(root: string = protoRoot()): WorkloadApi {
  return loadService('spiffe/workload/workload.proto', ['SpiffeWorkloadAPI'], root)
}

/**
 * Loads Sigil's server<->agent API.
 *
 * @example
 * const { service } = loadAgentApi()
 * server.addService(service, handlers) // handlers: AgentAPIHandlers
 */
export function loadAgentApi(root: string = protoRoot()): AgentApi {
  return loadService('sigil/agent/v1/agent.proto', ['sigil', 'agent', 'v1', 'AgentAPI'], root)
}

/**
 * Loads Sigil's local admin API.
 *
 * @example
 * const { Client } = loadAdminApi()
 * const admin = new Client('unix:///run/sigil/admin.sock', credentials.createInsecure())
 */
export function loadAdminApi(root: string = protoRoot()): AdminApi {
  return loadService('sigil/admin/v1/admin.proto', ['sigil', 'admin', 'v1', 'AdminAPI'], root)
}

/**
 * Loads Sigil's Task API (served by the agent beside the Workload API).
 *
 * @example
 * const { Client } = loadTaskApi()
 * const tasks = new Client('unix:///run/sigil/agent.sock', credentials.createInsecure())
 */
export function loadTaskApi(root: string = protoRoot()): TaskApi {
  return loadService('sigil/task/v1/task.proto', ['sigil', 'task', 'v1', 'Tasks'], root)
}

/**
 * Loads Sigil's Authorize API (the decision point for tools, served by the agent beside the
 * Workload API).
 *
 * @example
 * const { Client } = loadAuthzApi()
 * const authz = new Client('unix:///run/sigil/agent.sock', credentials.createInsecure())
 */
export function loadAuthzApi(root: string = protoRoot()): AuthzApi {
  return loadService('sigil/authz/v1/authz.proto', ['sigil', 'authz', 'v1', 'Authorizer'], root)
}
