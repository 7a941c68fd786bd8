/**
 * The one module that loads `@peculiar/x509` and points it at Node's native WebCrypto
 * (`node:crypto`.webcrypto, i.e. OpenSSL), never a JavaScript implementation. Code in
 * certs/ that needs the library's values calls {@link ensureCryptoProvider} and uses
 * what it returns; other files import only types from `@peculiar/x509`. That keeps the
 * reflect polyfill loaded first (the reflect-metadata package) and the provider set.
 */
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

/** The `@peculiar/x509` module namespace. */
export type PeculiarX509 = typeof x509

/**
 * Sets `@peculiar/x509`'s default crypto provider to Node's WebCrypto (idempotent) and
 * returns the library.
 *
 * @example
 * const x509 = ensureCryptoProvider()
 * const cert = new x509.X509Certificate(der)
 */
export function ensureCryptoProvider(): PeculiarX509 {
  const provider = x509.cryptoProvider
  if (!provider.has(x509.CryptoProvider.DEFAULT) || provider.get() !== (webcrypto as unknown)) {
    provider.set(webcrypto as unknown as ReturnType<typeof provider.get>)
  }
  return x509
}
