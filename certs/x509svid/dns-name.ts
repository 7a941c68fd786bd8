/**
 * Syntax check for DNS names placed in X509-SVID DNS SANs (RFC 1034/1123 host names,
 * plus one leading `*` label for wildcards, which SPIRE also allows).
 */

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const MAX_NAME_LENGTH = 253

/**
 * Returns why `name` is not a usable DNS SAN, or undefined when it is.
 *
 * @example
 * dnsNameProblem('web.example.org') // undefined
 * dnsNameProblem('-bad.example.org') // 'label "-bad" ...'
 */
export function dnsNameProblem(name: string): string | undefined {
  if (typeof name !== 'string') return 'DNS name must be a string'
  if (name.length === 0) return 'DNS name is empty'
  if (name.length > MAX_NAME_LENGTH) return `DNS name is longer than ${MAX_NAME_LENGTH} characters`
  const labels = name.split('.')
  for (const [i, label] of labels.entries()) {
    if (label === '*' && i === 0 && labels.length > 1) continue
    if (label === '') return 'DNS name has an empty label (leading, trailing or doubled ".")'
    if (!LABEL.test(label)) {
      return `label "${label.slice(0, 70)}" must be 1-63 characters of A-Z, a-z, 0-9 and "-", not starting or ending with "-"`
    }
  }
  return undefined
}
