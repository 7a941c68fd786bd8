/**
 * TLS material for the agent API, kept current without a restart: a grpc-js
 * `CertificateProvider` that serves the server's X509-SVID (identity) and the trust bundle's
 * X.509 roots (to check agents' client certificates), and pushes each change to grpc-js,
 * which swaps the secure context of the listening server. Updates are delivered on the next
 * tick, as grpc-js's own providers do (it registers its watcher after adding listeners).
 */
import type { KeyObject } from 'node:crypto'
import type { experimental } from '@grpc/grpc-js'
import { privateKeyToPkcs8Pem } from '../../certs/keys/keys.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'

type CertificateProvider = experimental.CertificateProvider
type CaListener = experimental.CaCertificateUpdateListener
type IdentityListener = experimental.IdentityCertificateUpdateListener
type CaUpdate = experimental.CaCertificateUpdate | null
type IdentityUpdate = experimental.IdentityCertificateUpdate | null

/**
 * An in-memory certificate provider for both roles (identity and CA).
 *
 * @example
 * const tls = new AgentApiTlsProvider()
 * tls.setIdentity(svid.chainDer, svid.privateKey)
 * tls.setRoots(bundle.x509Authorities)
 * const creds = experimental.createCertificateProviderServerCredentials(tls, tls, false)
 */
export class AgentApiTlsProvider implements CertificateProvider {
  readonly #caListeners = new Set<CaListener>()
  readonly #identityListeners = new Set<IdentityListener>()
  #ca: CaUpdate = null
  #identity: IdentityUpdate = null
  #rootsKey = ''

  /** Serves a new certificate chain (leaf first, DER) and its private key. */
  setIdentity(chainDer: readonly Buffer[], privateKey: KeyObject): void {
    this.#identity = {
      certificate: Buffer.from(certificatesToPem(chainDer)),
      privateKey: Buffer.from(privateKeyToPkcs8Pem(privateKey)),
    }
    const update = this.#identity
    for (const l of this.#identityListeners) process.nextTick(l, update)
  }

  /** Trusts these roots (DER) for client certificates; a no-op when they did not change. */
  setRoots(rootsDer: readonly Buffer[]): void {
    const key = rootsDer.map((d) => d.toString('base64')).join('.')
    if (key === this.#rootsKey) return
    this.#rootsKey = key
    this.#ca = { caCertificate: Buffer.from(certificatesToPem(rootsDer)) }
    const update = this.#ca
    for (const l of this.#caListeners) process.nextTick(l, update)
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener)
    if (this.#ca) process.nextTick(listener, this.#ca)
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener)
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener)
    if (this.#identity) process.nextTick(listener, this.#identity)
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener)
  }
}
