// Attack: replaying a JWT-SVID after its `exp`. Validators accept a token up to a leeway past
// `exp` (clock skew between the issuing server and the validator, 30 s by default); a service
// that wants no replay window must be able to turn it down — in the SDK (`leewaySeconds`) and in
// the agent's ValidateJWTSVID (`--jwt-leeway`). Tokens come from the real sigil-server
// (`jwt mint`) and its bundle (`bundle show --format spiffe`).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js'
import t from 'tap'
import { encodeJwtBundle } from '../../certs/bundle/jwt-bundle-json.js'
import { decodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import { parseJwtSvidInsecure } from '../../certs/jwtsvid/parse-jwt-svid-insecure.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { loadWorkloadApi } from '../../proto/loader.js'
import { DEFAULT_JWT_LEEWAY_SECONDS, JWTSource, validateJwtSvid } from '../../sdk/index.js'
import { startAgentProcess } from '../helpers/agent-process.js'
import { type ServerProcess, shortTempDir, startServerProcess } from '../helpers/server-process.js'
import { waitUntil } from '../helpers/wait-until.js'
import { startFakeWorkloadApi } from '../sdk/fake-workload-api.js'

const TD = TrustDomain.parse('example.org')
let server: ServerProcess
t.before(async () => {
  server = await startServerProcess(shortTempDir(t))
})
t.teardown(async () => {
  await server?.stop()
})

async function mintedToken() {
  const mint = await server.cli('jwt', 'mint', '--spiffe-id', 'spiffe://example.org/web', '--audience', 'db')
  if (mint.code !== 0) throw new Error(`jwt mint failed: ${mint.stderr}`)
  const token = mint.stdout.trim()
  const shown = await server.cli('bundle', 'show', '--format', 'spiffe')
  if (shown.code !== 0) throw new Error(`bundle show failed: ${shown.stderr}`)
  const bundle = decodeSpiffeBundle(TD, shown.stdout)
  const exp = parseJwtSvidInsecure(token).claims.exp as number
  return { token, bundle, tenPastExp: new Date((exp + 10) * 1000) }
}

t.test('validateJwtSvid: 10 s after exp passes the 30 s default, fails with leewaySeconds 0', async (t) => {
  const { token, bundle, tenPastExp } = await mintedToken()
  t.equal(DEFAULT_JWT_LEEWAY_SECONDS, 30)
  const opts = { audience: 'db', bundleFor: () => bundle, now: tenPastExp }
  const ok = await validateJwtSvid(token, opts)
  t.equal(ok.spiffeId.toString(), 'spiffe://example.org/web')
  await t.rejects(validateJwtSvid(token, { ...opts, leewaySeconds: 0 }), { code: 'ERR_JWT_EXPIRED' })
  await t.rejects(validateJwtSvid(token, { ...opts, leewaySeconds: 301 }), TypeError, 'at most 300 s')
})

t.test('JWTSource: a source-wide leewaySeconds, overridable per call', async (t) => {
  const { token, bundle, tenPastExp } = await mintedToken()
  const fake = await startFakeWorkloadApi(t, {
    jwtBundles: (call) => call.write({ bundles: { [TD.idString()]: Buffer.from(encodeJwtBundle(bundle)) } }),
  })
  const strict = await JWTSource.create({
    socketPath: fake.socketPath,
    now: () => tenPastExp,
    leewaySeconds: 0,
  })
  t.teardown(() => strict.close())
  await t.rejects(strict.validateJwtSvid(token, 'db'), { code: 'ERR_JWT_EXPIRED' })
  const relaxed = await strict.validateJwtSvid(token, 'db', { leewaySeconds: 30 })
  t.equal(relaxed.spiffeId.toString(), 'spiffe://example.org/web')

  const lenient = await JWTSource.create({ socketPath: fake.socketPath, now: () => tenPastExp })
  t.teardown(() => lenient.close())
  t.equal((await lenient.validateJwtSvid(token, 'db')).spiffeId.toString(), 'spiffe://example.org/web')
  await t.rejects(JWTSource.create({ socketPath: fake.socketPath, leewaySeconds: -1 }), TypeError)
})

/** ValidateJWTSVID on a real agent's socket, with the security header. */
function validateOnAgent(socketPath: string, token: string) {
  const client = new (loadWorkloadApi().Client)(`unix:${socketPath}`, credentials.createInsecure())
  const md = new Metadata()
  md.set('workload.spiffe.io', 'true')
  return new Promise<{ err: ServiceError | null; spiffeId?: string }>((resolve) =>
    client.ValidateJWTSVID({ audience: 'db', svid: token }, md, (err, res) => {
      client.close()
      resolve({ err, ...(res?.spiffe_id ? { spiffeId: res.spiffe_id } : {}) })
    }),
  )
}

// Attack: a JWT-SVID replayed to the agent's ValidateJWTSVID 5 s after its `exp`; an operator who
// wants no replay window starts the agent with `--jwt-leeway 0s`.
t.test(
  'agent ValidateJWTSVID: 5 s past exp passes with the default leeway, fails with --jwt-leeway 0s',
  async (t) => {
    const dir = shortTempDir(t)
    const shown = await server.cli('bundle', 'show')
    if (shown.code !== 0) throw new Error(`bundle show failed: ${shown.stderr}`)
    const bundlePath = join(dir, 'bundle.pem')
    writeFileSync(bundlePath, shown.stdout)
    const start = async (name: string, extraArgs: string[]) => {
      const token = await server.cli('token', 'generate', '--spiffe-id', `spiffe://example.org/${name}`)
      if (token.code !== 0) throw new Error(`token generate failed: ${token.stderr}`)
      const agent = await startAgentProcess({
        serverAddress: server.agentApiAddress,
        dataDir: join(dir, name),
        socketPath: join(dir, `${name}.sock`),
        joinToken: token.stdout.trim(),
        trustBundle: bundlePath,
        extraArgs,
      })
      t.teardown(() => agent.stop())
      return agent
    }
    const lenient = await start('lenient', [])
    const strict = await start('strict', ['--jwt-leeway', '0s'])

    const mint = await server.cli(
      'jwt',
      'mint',
      '--spiffe-id',
      'spiffe://example.org/web',
      '--audience',
      'db',
      '--ttl',
      '1s',
    )
    t.equal(mint.code, 0, mint.stderr)
    const token = mint.stdout.trim()
    const exp = parseJwtSvidInsecure(token).claims.exp as number
    await waitUntil("5 s past the token's exp", () => Date.now() >= (exp + 5) * 1000, { timeoutMs: 15_000 })

    const refused = await validateOnAgent(strict.socketPath, token)
    t.equal(refused.err?.code, status.INVALID_ARGUMENT, '--jwt-leeway 0s: refused')
    t.match(refused.err?.details, /exp/, 'as expired')
    const accepted = await validateOnAgent(lenient.socketPath, token)
    t.equal(accepted.err, null, 'default leeway (30 s): accepted')
    t.equal(accepted.spiffeId, 'spiffe://example.org/web')
  },
)
