// The Workload API as loaded must be wire-identical to the public SPIFFE one: the method paths,
// streaming shapes and every message's field numbers and types, written out here from SPIFFE.md §5.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadWorkloadApi, protoRoot } from '../../proto/loader.js'
import { describeMessage, messageNames } from './describe-message.js'

// SPIFFE.md §5.2: path, request, response, client streams?, server streams?
const METHODS = {
  FetchX509SVID: ['/SpiffeWorkloadAPI/FetchX509SVID', 'X509SVIDRequest', 'X509SVIDResponse', false, true],
  FetchX509Bundles: [
    '/SpiffeWorkloadAPI/FetchX509Bundles',
    'X509BundlesRequest',
    'X509BundlesResponse',
    false,
    true,
  ],
  FetchJWTSVID: ['/SpiffeWorkloadAPI/FetchJWTSVID', 'JWTSVIDRequest', 'JWTSVIDResponse', false, false],
  FetchJWTBundles: [
    '/SpiffeWorkloadAPI/FetchJWTBundles',
    'JWTBundlesRequest',
    'JWTBundlesResponse',
    false,
    true,
  ],
  ValidateJWTSVID: [
    '/SpiffeWorkloadAPI/ValidateJWTSVID',
    'ValidateJWTSVIDRequest',
    'ValidateJWTSVIDResponse',
    false,
    false,
  ],
  FetchWITSVID: ['/SpiffeWorkloadAPI/FetchWITSVID', 'WITSVIDRequest', 'WITSVIDResponse', false, true],
  FetchWITBundles: [
    '/SpiffeWorkloadAPI/FetchWITBundles',
    'WITBundlesRequest',
    'WITBundlesResponse',
    false,
    true,
  ],
} as const

// SPIFFE.md §5.3, field by field.
const MESSAGES: Record<string, Record<string, string>> = {
  X509SVIDRequest: {},
  X509SVIDResponse: {
    svids: '1 repeated X509SVID',
    crl: '2 repeated bytes',
    federated_bundles: '3 map<string, bytes>',
  },
  X509SVID: {
    spiffe_id: '1 string',
    x509_svid: '2 bytes',
    x509_svid_key: '3 bytes',
    bundle: '4 bytes',
    hint: '5 string',
  },
  X509BundlesRequest: {},
  X509BundlesResponse: { crl: '1 repeated bytes', bundles: '2 map<string, bytes>' },
  JWTSVIDRequest: { audience: '1 repeated string', spiffe_id: '2 string' },
  JWTSVIDResponse: { svids: '1 repeated JWTSVID' },
  JWTSVID: { spiffe_id: '1 string', svid: '2 string', hint: '3 string' },
  JWTBundlesRequest: {},
  JWTBundlesResponse: { bundles: '1 map<string, bytes>' },
  ValidateJWTSVIDRequest: { audience: '1 string', svid: '2 string' },
  ValidateJWTSVIDResponse: { spiffe_id: '1 string', claims: '2 google.protobuf.Struct' },
  WITSVIDRequest: { spiffe_id: '1 string' },
  WITSVIDResponse: { svids: '1 repeated WITSVID' },
  WITSVID: { spiffe_id: '1 string', wit_svid: '2 string', wit_svid_key: '3 string', hint: '4 string' },
  WITBundlesRequest: {},
  WITBundlesResponse: { bundles: '1 map<string, string>' },
}

const api = loadWorkloadApi()

t.test('the service has exactly the seven Workload API methods, with their paths and shapes', async (t) => {
  t.same(Object.keys(api.service).sort(), Object.keys(METHODS).sort())
  for (const [name, [path, req, res, clientStream, serverStream]] of Object.entries(METHODS)) {
    const m = api.service[name as keyof typeof METHODS]
    t.equal(m.path, path, `${name} path`)
    t.equal(m.requestStream, clientStream, `${name} client streaming`)
    t.equal(m.responseStream, serverStream, `${name} server streaming`)
    t.equal((m.requestType.type as { name: string }).name, req, `${name} request type`)
    t.equal((m.responseType.type as { name: string }).name, res, `${name} response type`)
  }
})

t.test('every message has exactly the field numbers and types of SPIFFE.md §5.3', async (t) => {
  const def = api.packageDefinition
  const ours = messageNames(def).filter((n) => !n.startsWith('google.protobuf.'))
  t.same(ours, Object.keys(MESSAGES).sort(), 'no message missing, none extra')
  for (const [name, fields] of Object.entries(MESSAGES)) {
    t.same(describeMessage(def, name), fields, name)
  }
})

t.test('the file has no package statement (paths would change) and imports struct.proto', async (t) => {
  const text = readFileSync(join(protoRoot(), 'spiffe/workload/workload.proto'), 'utf8')
  t.notMatch(text, /^\s*package\s/m)
  t.match(text, /^import "google\/protobuf\/struct\.proto";$/m)
  t.match(text, /^syntax = "proto3";$/m)
  t.ok(api.packageDefinition['google.protobuf.Struct'], 'google.protobuf.Struct resolved')
})
