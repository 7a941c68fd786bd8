/**
 * Admin handlers for `x509 mint`, `jwt mint` and `wit mint`: SVIDs signed directly for an
 * operator, without a registration entry. The CLI keeps the private key and sends only a CSR
 * (of which only the public key is used) or, for a WIT-SVID, the public JWK. Every SVID is recorded in the issuance record before
 * it is returned; if recording fails, the SVID is not released.
 */
import { SigilError } from '../../../certs/errors.js'
import { parsePublicJwkString } from '../../../certs/witsvid/confirmation-key.js'
import { parseCsr } from '../../../certs/x509svid/csr.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import { witIssuanceRecord } from '../agent/issuance-record.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { checkAudience, checkDnsNames, checkTtl, requireWorkloadId } from './admin-input.js'
import { bundleToMessage } from './bundle.js'
import { unary } from './unary.js'

/** Largest CSR accepted (DER bytes); real ones are well under 2 KiB. */
export const MAX_CSR_BYTES = 16 * 1024

/** The handlers for the `x509 mint`, `jwt mint` and `wit mint` commands. */
export function mintHandlers(
  deps: AdminApiDeps,
): Pick<AdminAPIHandlers, 'MintX509Svid' | 'MintJwtSvid' | 'MintWitSvid'> {
  const { ca, datastore, logger, trustDomain, clock } = deps
  return {
    MintX509Svid: unary('MintX509Svid', logger, async (req) => {
      const spiffeId = requireWorkloadId(req.spiffe_id, trustDomain, 'spiffe_id')
      const ttlSeconds = checkTtl(req.ttl, 'ttl') || deps.defaultX509SvidTtlSeconds
      const dnsNames = checkDnsNames(req.dns_names)
      if (req.csr.length === 0) throw new SigilError('ERR_CSR_INVALID', 'csr is required')
      if (req.csr.length > MAX_CSR_BYTES) {
        throw new SigilError('ERR_CSR_INVALID', `csr is larger than ${MAX_CSR_BYTES} bytes`)
      }
      const { publicKey } = await parseCsr(req.csr)
      const svid = ca.signX509Svid({ spiffeId, publicKey, ttlSeconds, dnsNames })
      const bundle = ca.currentBundle()
      await datastore.recordIssuedSvids([
        {
          kind: 'x509',
          serialOrJti: svid.serialHex,
          spiffeId: spiffeId.toString(),
          entryId: '',
          agentId: '',
          notBefore: svid.notBefore,
          notAfter: svid.notAfter,
          audience: [],
          issuedAt: clock(),
        },
      ])
      logger.info(
        { spiffe_id: spiffeId.toString(), serial: svid.serialHex, expires_at: svid.notAfter.toISOString() },
        'x509-svid minted by an operator',
      )
      return {
        svid: {
          spiffe_id: spiffeId.toString(),
          cert_chain: [...svid.chainDer],
          expires_at: Math.floor(svid.notAfter.getTime() / 1000),
          serial: svid.serialHex,
        },
        bundle: bundleToMessage(bundle),
      }
    }),

    MintJwtSvid: unary('MintJwtSvid', logger, async (req) => {
      const spiffeId = requireWorkloadId(req.spiffe_id, trustDomain, 'spiffe_id')
      const audience = checkAudience(req.audience)
      const ttlSeconds = checkTtl(req.ttl, 'ttl') || deps.defaultJwtSvidTtlSeconds
      const jwt = await ca.signJwtSvid({ spiffeId, audience, ttlSeconds })
      await datastore.recordIssuedSvids([
        {
          kind: 'jwt',
          serialOrJti: jwt.jti,
          spiffeId: spiffeId.toString(),
          entryId: '',
          agentId: '',
          notBefore: jwt.issuedAt,
          notAfter: jwt.expiresAt,
          audience: jwt.audience,
          issuedAt: clock(),
        },
      ])
      logger.info(
        { spiffe_id: spiffeId.toString(), jti: jwt.jti, audience, expires_at: jwt.expiresAt.toISOString() },
        'jwt-svid minted by an operator',
      )
      return {
        token: jwt.token,
        expires_at: Math.floor(jwt.expiresAt.getTime() / 1000),
        issued_at: Math.floor(jwt.issuedAt.getTime() / 1000),
      }
    }),

    MintWitSvid: unary('MintWitSvid', logger, async (req) => {
      const spiffeId = requireWorkloadId(req.spiffe_id, trustDomain, 'spiffe_id')
      const ttlSeconds = checkTtl(req.ttl, 'ttl') || deps.defaultX509SvidTtlSeconds
      const { publicKey, alg } = parsePublicJwkString(req.public_key_jwk)
      const wit = ca.signWitSvid({ spiffeId, workloadKey: publicKey, workloadAlgorithm: alg, ttlSeconds })
      await datastore.recordIssuedSvids([witIssuanceRecord(wit, { entryId: '', agentId: '' }, clock())])
      logger.info(
        { spiffe_id: spiffeId.toString(), jti: wit.jti, expires_at: wit.expiresAt.toISOString() },
        'wit-svid minted by an operator',
      )
      return {
        token: wit.token,
        expires_at: Math.floor(wit.expiresAt.getTime() / 1000),
        issued_at: Math.floor(wit.issuedAt.getTime() / 1000),
        jti: wit.jti,
      }
    }),
  }
}
