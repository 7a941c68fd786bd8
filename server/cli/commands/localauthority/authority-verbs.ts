/**
 * The verbs of `sigil-server localauthority x509|jwt`: one declaration per action, built for
 * both kinds. `show` prints the active, prepared and old authorities (ID, expiry, tainted);
 * the others print the authority after the change. SPIRE's `-authorityID` is an alias of
 * `--authority-id`. A refused change (activating an authority that is not the prepared one,
 * tainting or revoking the active one, revoking one not tainted) is FAILED_PRECONDITION and an
 * unknown ID NOT_FOUND: both exit 2 with the server's message.
 */
import { createHash } from 'node:crypto'
import { type CliCommand, EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import type { LocalAuthority__Output as LocalAuthority } from '../../../../proto/generated/sigil/admin/v1/LocalAuthority.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { isoTime } from '../../format-records.js'

type Kind = 'x509' | 'jwt'
type Action = 'prepare' | 'activate' | 'taint' | 'revoke'

const RPC = {
  prepare: 'PrepareLocalAuthority',
  activate: 'ActivateLocalAuthority',
  taint: 'TaintLocalAuthority',
  revoke: 'RevokeLocalAuthority',
} as const

const DONE: Record<Action, string> = {
  prepare: 'Prepared',
  activate: 'Activated',
  taint: 'Tainted',
  revoke: 'Revoked',
}

const DESCRIPTIONS: Record<Action | 'show', string> = {
  show: 'Shows the active, prepared and old authorities: ID, validity, tainted.',
  prepare:
    'Prepares a new authority now and publishes it in the bundle (replacing a prepared one); it signs nothing until activated. Wait for agents and relying parties to fetch the bundle before activating it.',
  activate:
    'Makes the prepared authority --authority-id the signer; the active one becomes old (still in the bundle).',
  taint:
    'Taints the old authority --authority-id: every agent re-issues at once each SVID it signed. The active authority cannot be tainted.',
  revoke:
    'Removes the tainted authority --authority-id from the bundle: what it signed stops verifying. Only a tainted old authority can be revoked.',
}

/** The JSON form: the wire message with readable times and the certificate's SHA-256. */
function authorityJson(a: LocalAuthority | null | undefined): Record<string, unknown> | null {
  if (!a) return null
  return {
    authority_id: a.authority_id,
    status: a.status,
    not_before: isoTime(Number(a.not_before)),
    expires_at: isoTime(Number(a.expires_at)),
    tainted: a.tainted,
    ...(a.certificate.length > 0
      ? { certificate_sha256: createHash('sha256').update(a.certificate).digest('hex') }
      : {}),
  }
}

function authorityText(title: string, a: LocalAuthority | null | undefined): string {
  if (!a) return `${title}:\n  No ${title.toLowerCase()} found.\n`
  return [
    `${title}:`,
    `  Authority ID         : ${a.authority_id}`,
    `  Expires at           : ${isoTime(Number(a.expires_at))}`,
    `  Not before           : ${isoTime(Number(a.not_before))}`,
    `  Tainted              : ${a.tainted}`,
    '',
  ].join('\n')
}

function showVerb(kind: Kind) {
  return adminVerb({
    usage: `sigil-server localauthority ${kind} show`,
    description: DESCRIPTIONS.show,
    run: async (_v, ctx) => {
      const res = await ctx.admin().call('GetLocalAuthorities', { kind })
      printResult(
        ctx.io,
        ctx.format,
        {
          active: authorityJson(res.active),
          prepared: authorityJson(res.prepared),
          old: res.old.map(authorityJson),
        },
        () =>
          [
            authorityText('Active', res.active),
            authorityText('Prepared', res.prepared),
            res.old.length === 0
              ? authorityText('Old', undefined)
              : res.old.map((a) => authorityText('Old', a)).join('\n'),
          ].join('\n'),
      )
      return EXIT_OK
    },
  })
}

function changeVerb(kind: Kind, action: Action) {
  return adminVerb({
    usage: `sigil-server localauthority ${kind} ${action}`,
    description: DESCRIPTIONS[action],
    options: (j) =>
      j.opt({
        'authority-id': {
          hint: 'id',
          description:
            action === 'prepare'
              ? 'Not taken: prepare makes a new authority'
              : `The authority's ID as \`show\` prints it (${kind === 'x509' ? 'subject key ID, hex' : 'kid'}) (required)`,
        },
      }),
    run: async (v, ctx) => {
      const id = v['authority-id']
      if (action === 'prepare' && id !== undefined) throw new UsageError('prepare takes no --authority-id')
      if (action !== 'prepare' && !id) throw new UsageError('--authority-id is required')
      const res = await ctx.admin().call(RPC[action], { kind, authority_id: id ?? '' })
      printResult(ctx.io, ctx.format, { authority: authorityJson(res.authority) }, () =>
        authorityText(`${DONE[action]} ${kind === 'x509' ? 'X.509' : 'JWT'} authority`, res.authority),
      )
      return EXIT_OK
    },
  })
}

/** Each kind's verbs (`run(args, io)`), as localauthority.ts loads them. */
export const verbs: Record<Kind, Record<string, CliCommand['run']>> = {
  x509: {
    show: showVerb('x509'),
    prepare: changeVerb('x509', 'prepare'),
    activate: changeVerb('x509', 'activate'),
    taint: changeVerb('x509', 'taint'),
    revoke: changeVerb('x509', 'revoke'),
  },
  jwt: {
    show: showVerb('jwt'),
    prepare: changeVerb('jwt', 'prepare'),
    activate: changeVerb('jwt', 'activate'),
    taint: changeVerb('jwt', 'taint'),
    revoke: changeVerb('jwt', 'revoke'),
  },
}
