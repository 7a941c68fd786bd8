/**
 * `npm run bench -- certs`: X509-SVID minting (from a given P-256 public key), JWT-SVID
 * minting and validation, WIT-SVID minting, WPT creation and verification (the WIT already
 * validated, as a service caches it; and WIT + WPT from cold), each beside the raw
 * `openssl speed ecdsap256` sign or verify rate measured in the same run. All on one core
 * (one Node thread, sequential calls), counted per second of CPU time like `openssl speed`.
 */
import { createPublicKey } from 'node:crypto'
import { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { JwtSvidSigner } from '../../certs/jwtsvid/jwt-svid-signer.js'
import { validateJwtSvid } from '../../certs/jwtsvid/validate-jwt-svid.js'
import { generateKeyPair } from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { validateWitSvid } from '../../certs/witsvid/validate-wit-svid.js'
import { WitSvidSigner } from '../../certs/witsvid/wit-svid-signer.js'
import { createWorkloadProofToken } from '../../certs/wpt/create-workload-proof-token.js'
import { JtiReplayCache } from '../../certs/wpt/jti-replay-cache.js'
import { verifyWorkloadProofToken } from '../../certs/wpt/verify-workload-proof-token.js'
import { benchMinter } from './bench-minter.js'
import { type Benchmark, opensslP256Speed, opsPerCpuSecond as opsPerSecond, rate } from './benchmark.js'

const SECONDS = Number(process.env.SIGIL_BENCH_SECONDS ?? 3)

export const benchmark: Benchmark = async () => {
  // OpenSSL before and after our measurements, averaged: on a shared machine the load moves.
  const opensslBefore = opensslP256Speed(SECONDS)
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
  const witKey = await generateKeyPair('ec-p256')
  const witSigner = new WitSvidSigner({ privateKey: witKey.privateKey, kid: 'bench-wit' })
  const witMint = await opsPerSecond(
    () => witSigner.sign({ spiffeId: id, workloadKey: leaf.publicKey, ttlSeconds: 3600 }),
    SECONDS,
  )
  const wit = witSigner.sign({ spiffeId: id, workloadKey: leaf.publicKey, ttlSeconds: 3600 }).token
  const witBundle = TrustBundle.create({
    trustDomain: td,
    witAuthorities: [{ kid: 'bench-wit', publicKey: witKey.publicKey }],
  })
  const aud = 'https://bench.example.org/api'
  const wptCreate = await opsPerSecond(
    () => createWorkloadProofToken({ wit, privateKey: leaf.privateKey, audience: aud }),
    SECONDS,
  )
  // A fresh WPT per verification (the replay cache would refuse a repeat), made beforehand.
  const wpts = Array.from({ length: 20_000 }, () =>
    createWorkloadProofToken({ wit, privateKey: leaf.privateKey, audience: aud }),
  )
  const validatedWit = validateWitSvid(wit, { bundleFor: () => witBundle })
  let i = 0
  let cache = new JtiReplayCache()
  const wptVerify = await opsPerSecond(() => {
    if (i % wpts.length === 0) cache = new JtiReplayCache() // the pool of WPTs starts over
    verifyWorkloadProofToken(wpts[i++ % wpts.length] as string, {
      wit,
      validatedWit,
      audience: aud,
      replayCache: cache,
    })
  }, SECONDS)
  const wptVerifyCold = await opsPerSecond(() => {
    const v = validateWitSvid(wit, { bundleFor: () => witBundle })
    verifyWorkloadProofToken(wpts[i++ % wpts.length] as string, { wit, validatedWit: v, audience: aud })
  }, SECONDS)
  const opensslAfter = opensslP256Speed(SECONDS)
  const sign = (opensslBefore.signPerS + opensslAfter.signPerS) / 2
  const verify = (opensslBefore.verifyPerS + opensslAfter.verifyPerS) / 2
  const pct = (n: number, of = sign) => `${((100 * n) / of).toFixed(1)}%`
  const ratio = (n: number, of: number) => Number((n / of).toFixed(3))
  return {
    json: {
      x509_mint_per_s: Math.round(x509),
      jwt_mint_per_s: Math.round(jwtMint),
      jwt_validate_per_s: Math.round(jwtValidate),
      wit_mint_per_s: Math.round(witMint),
      wpt_create_per_s: Math.round(wptCreate),
      wpt_verify_per_s: Math.round(wptVerify),
      wit_wpt_verify_cold_per_s: Math.round(wptVerifyCold),
      openssl_p256_sign_per_s: Math.round(sign),
      openssl_p256_verify_per_s: Math.round(verify),
      x509_ratio: ratio(x509, sign),
      jwt_mint_ratio: ratio(jwtMint, sign),
      wit_mint_ratio: ratio(witMint, sign),
      wpt_create_ratio: ratio(wptCreate, sign),
      wpt_verify_ratio: ratio(wptVerify, verify),
      wit_wpt_verify_cold_ratio: ratio(wptVerifyCold, verify),
    },
    rows: [
      ['openssl speed ecdsap256 (sign)', rate(sign)],
      ['openssl speed ecdsap256 (verify)', rate(verify)],
      ['X509-SVID mint (P-256)', `${rate(x509)}  ${pct(x509)} of sign`],
      ['JWT-SVID mint (ES256)', `${rate(jwtMint)}  ${pct(jwtMint)} of sign`],
      ['JWT-SVID validate (ES256)', `${rate(jwtValidate)}  ${pct(jwtValidate, verify)} of verify`],
      ['WIT-SVID mint (ES256)', `${rate(witMint)}  ${pct(witMint)} of sign`],
      ['WPT create (ES256)', `${rate(wptCreate)}  ${pct(wptCreate)} of sign`],
      ['WPT verify, WIT validated (ES256)', `${rate(wptVerify)}  ${pct(wptVerify, verify)} of verify`],
      [
        'WIT + WPT verify, cold (2 verifies)',
        `${rate(wptVerifyCold)}  ${pct(wptVerifyCold, verify)} of verify`,
      ],
    ],
    note: `one core, ${SECONDS}s per measurement, per CPU second as openssl speed counts; % of the raw OpenSSL sign or verify rate (mean of a run before and after: sign ${rate(opensslBefore.signPerS)} / ${rate(opensslAfter.signPerS)}, verify ${rate(opensslBefore.verifyPerS)} / ${rate(opensslAfter.verifyPerS)})`,
  }
}
