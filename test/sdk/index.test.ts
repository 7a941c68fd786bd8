// The SDK barrel exposes the public API (package.json "exports": "./sdk" → dist/sdk/index.js).
import t from 'tap'
import * as sdk from '../../sdk/index.js'

t.test('the SDK barrel exposes the public API and nothing internal', async (t) => {
  for (const name of [
    'WorkloadApiClient',
    'X509Source',
    'JWTSource',
    'BundleSource',
    'fetchSpiffeBundle',
    'tlsServerOptions',
    'serveMtls',
    'tlsClientOptions',
    'peerSpiffeId',
    'authorizeAny',
    'authorizeId',
    'authorizeOneOf',
    'authorizeMemberOf',
    'authorizeIf',
    'parseEndpointAddress',
    'resolveEndpointAddress',
    'SpiffeId',
    'TrustDomain',
    'SigilError',
    'isSigilError',
    'validateJwtSvid',
    'RevocationFeed',
  ]) {
    t.type((sdk as Record<string, unknown>)[name], 'function', name)
  }
  t.equal(sdk.ENDPOINT_SOCKET_ENV, 'SPIFFE_ENDPOINT_SOCKET')
  t.equal(sdk.DEFAULT_REFRESH_HINT_SECONDS, 300)
  t.equal(sdk.DEFAULT_JWT_LEEWAY_SECONDS, 30)
  t.notOk('watchStream' in sdk, 'internals stay internal')
  t.notOk('fetchFromBundleEndpoint' in sdk, 'internals stay internal')
  t.throws(() => new sdk.WorkloadApiClient({ env: {} }), { code: 'ERR_CONFIG_INVALID' })
})
