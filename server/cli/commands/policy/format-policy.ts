/** The pretty form of a policy version (`policy set|show|history`). */
import type { PolicyVersion__Output } from '../../../../proto/generated/sigil/admin/v1/PolicyVersion.js'

/** A policy version as a block of lines; `withText` adds the policy text after a blank line. */
export function formatPolicyVersion(p: PolicyVersion__Output, withText: boolean): string {
  const ids = p.policy_ids.length
  const lines = [
    `Version          : ${String(p.version)}`,
    `Set at           : ${new Date(Number(p.created_at) * 1000).toISOString()}`,
    ...(p.admin_caller ? [`Set by           : ${p.admin_caller}`] : []),
    `SHA-256          : ${p.sha256}`,
    `Policies         : ${ids}${ids > 0 && ids <= 20 ? ` (${p.policy_ids.join(', ')})` : ''}`,
  ]
  if (withText)
    lines.push('', p.text === '' ? '(no policy: entries alone decide)' : p.text.replace(/\n$/, ''))
  return lines.join('\n')
}
