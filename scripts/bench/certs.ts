/**
 * `npm run bench -- certs`: X509-SVID minting (from a given P-256 public key), JWT-SVID
 * minting and validation, each beside the raw `openssl speed ecdsap256` sign rate
 * measured in the same run. All on one core (one Node thread, sequential calls).
 */
import { createPublicKey } from 'node:crypto'
import { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { JwtSvidSigner } from '../../certs/jwtsvid/jwt-svid-signer.js'
import { validateJwtSvid } from '../../certs/jwtsvid/validate-jwt-svid.js'
import { generateKeyPair } from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { benchMinter } from './bench-minter.js'
import { type Benchmark, opensslP256SignsPerSecond, opsPerSecond, rate } from './benchmark.js'

const SECONDS = Number(process.env.SIGIL_BENCH_SECONDS ?? 3)

export const benchmark: Benchmark = async () => {
  const td = TrustDomain.parse('example.org')
  const minter = await benchMinter()
  const leaf = await generateKeyPair('ec-p256')
  const id = SpiffeId.parse('spiffe://example.org/bench/workload')
  const x509 = await opsPerSecond(
    () => minter.mint({ spiffeId: id, publicKey: leaf.publicKey, ttlSeconds: 3600 }),
    SECONDS,
  )

  const jwtKey = await generateKeyPair('ec-p256')
  const signer = new JwtSvidSigner({ privateKey: jwtKey.privateKey, kid: 'bench-kid' })
  const jwtMint = await opsPerSecond(
    () => signer.sign({ spiffeId: id, audience: ['bench'], ttlSeconds: 300 }),
    SECONDS,
  )
  const { token } = await signer.sign({ spiffeId: id, audience: ['bench'], ttlSeconds: 300 })
  const bundle = TrustBundle.create({
    trustDomain: td,
    jwtAuthorities: [{ kid: 'bench-kid', publicKey: createPublicKey(jwtKey.privateKey) }],
  })
  const jwtValidate = await opsPerSecond(
    () => validateJwtSvid(token, { audience: 'bench', bundleFor: () => bundle }),
    SECONDS,
  )
  const openssl = opensslP256SignsPerSecond(SECONDS)
  const pct = (n: number) => `${((100 * n) / openssl).toFixed(1)}%`
  return {
    json: {
      x509_mint_per_s: Math.round(x509),
      jwt_mint_per_s: Math.round(jwtMint),
      jwt_validate_per_s: Math.round(jwtValidate),
      openssl_p256_sign_per_s: Math.round(openssl),
      x509_ratio: Number((x509 / openssl).toFixed(3)),
      jwt_mint_ratio: Number((jwtMint / openssl).toFixed(3)),
    },
    rows: [
      ['openssl speed ecdsap256 (sign)', rate(openssl)],
      ['X509-SVID mint (P-256)', `${rate(x509)}  ${pct(x509)}`],
      ['JWT-SVID mint (ES256)', `${rate(jwtMint)}  ${pct(jwtMint)}`],
      ['JWT-SVID validate (ES256)', `${rate(jwtValidate)}  ${pct(jwtValidate)}`],
    ],
    note: `one core, ${SECONDS}s per measurement; % of the raw OpenSSL sign rate`,
  }
}
