/**
 * Sigil's SPIFFE credential core, the public surface (`import … from 'sigil/certs'`):
 * SPIFFE IDs, keys, X.509-SVIDs, JWT-SVIDs, trust bundles and their verification. Every
 * function that takes untrusted input throws {@link SigilError} with a stable code.
 */
export { decodeBundleMap, encodeBundleMap } from './bundle/bundle-map.js'
export { decodeDerBundle } from './bundle/der-bundle.js'
export { decodeJwtBundle, encodeJwtBundle } from './bundle/jwt-bundle-json.js'
export { decodePemBundle, encodePemBundle } from './bundle/pem-bundle.js'
export { decodeSpiffeBundle, encodeSpiffeBundle } from './bundle/spiffe-bundle-json.js'
export { type JwtAuthority, TrustBundle, type TrustBundleInit } from './bundle/trust-bundle.js'
export { ERROR_CODES, type ErrorCode, isSigilError, SigilError } from './errors.js'
export {
  type DecodedCompactJws,
  decodeCompactJws,
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  signCompactJws,
  verifyCompactJws,
} from './jws/compact-jws.js'
export { JWT_SVID_ALGORITHMS, type JwtSvidAlgorithm } from './jwtsvid/jwt-svid-algorithms.js'
export { JwtSvidSigner, type JwtSvidSignerOptions, type MintedJwtSvid } from './jwtsvid/jwt-svid-signer.js'
export { parseJwtSvidInsecure } from './jwtsvid/parse-jwt-svid-insecure.js'
export {
  DEFAULT_JWT_LEEWAY_SECONDS,
  MAX_JWT_LEEWAY_SECONDS,
  type ValidatedJwtSvid,
  type ValidateJwtSvidOptions,
  validateJwtSvid,
} from './jwtsvid/validate-jwt-svid.js'
export {
  DEFAULT_KEY_TYPE,
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  KEY_TYPES,
  type KeyPair,
  type KeyType,
  keyTypeOf,
  parseKeyType,
  privateKeyToPkcs8Der,
  privateKeyToPkcs8Pem,
  publicKeyToSpkiDer,
} from './keys/keys.js'
export {
  formatSelector,
  parseSelector,
  type Selector,
  selectorSet,
  selectorsMatch,
} from './selector/selector.js'
export { parseWorkloadId, SpiffeId } from './spiffeid/spiffe-id.js'
export { TrustDomain } from './spiffeid/trust-domain.js'
export { type ActClaim, buildActClaim, MAX_ACT_DEPTH, parseActClaim } from './txntoken/act-chain.js'
export {
  checkScope,
  type MintedTxnToken,
  type SignTxnTokenOptions,
  signTxnToken,
  TXN_TOKEN_HEADER,
  TXN_TOKEN_TYPE,
  type TxnTokenClaims,
} from './txntoken/sign-txn-token.js'
export {
  type VerifiedTxnToken,
  type VerifyTxnTokenOptions,
  verifyTxnToken,
} from './txntoken/verify-txn-token.js'
export {
  type ConfirmationJwk,
  confirmationJwk,
  defaultWitAlgorithm,
  privateKeyFromJwkString,
  privateKeyToJwkString,
  readConfirmationJwk,
  type WitSvidAlgorithm,
} from './witsvid/confirmation-key.js'
export {
  parseWitSvidInsecure,
  type UnverifiedWitSvid,
  type ValidatedWitSvid,
  type ValidateWitSvidOptions,
  validateWitSvid,
} from './witsvid/validate-wit-svid.js'
export {
  type MintedWitSvid,
  WIT_HEADER,
  WIT_SVID_TYPE,
  WitSvidSigner,
  type WitSvidSignerOptions,
  type WitSvidSignOptions,
} from './witsvid/wit-svid-signer.js'
export {
  type CreateWorkloadProofTokenOptions,
  createWorkloadProofToken,
  DEFAULT_WPT_TTL_SECONDS,
  MAX_WPT_TTL_SECONDS,
  tokenHash,
  WPT_HEADER,
  WPT_TYPE,
} from './wpt/create-workload-proof-token.js'
export { DEFAULT_REPLAY_CACHE_ENTRIES, JtiReplayCache } from './wpt/jti-replay-cache.js'
export {
  type VerifiedWorkloadProofToken,
  type VerifyWorkloadProofTokenOptions,
  verifyWorkloadProofToken,
} from './wpt/verify-workload-proof-token.js'
export { buildCaCertificate, type CaCertificateOptions } from './x509svid/ca-certificate.js'
export { createCsr, parseCsr } from './x509svid/csr.js'
export { type ParsedX509Svid, parseX509Svid, splitConcatenatedDer } from './x509svid/parse-x509-svid.js'
export { certificatesToPem, pemToCertificates } from './x509svid/pem.js'
export {
  type VerifiedX509Svid,
  verifyX509Svid,
  type X509AuthoritiesFor,
} from './x509svid/verify-x509-svid.js'
export {
  type MintedX509Svid,
  X509SvidMinter,
  type X509SvidMinterOptions,
} from './x509svid/x509-svid-minter.js'
