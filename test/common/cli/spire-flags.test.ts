// SPIRE's camelCase single-dash flags (issue 16, item 4): read as the Sigil option of the same
// meaning, or refused with a message naming the Sigil option — never "unexpected argument".
import { jack } from 'jackspeak'
import t from 'tap'
import { UsageError } from '../../../common/cli/cli-io.js'
import { checkArgs, parseOptions } from '../../../common/cli/parse-options.js'
import { SPIRE_FLAGS } from '../../../common/cli/spire-flags.js'

const table = () =>
  jack({ allowPositionals: false })
    .opt({ 'spiffe-id': {}, 'parent-id': {}, reason: {}, 'admin-socket': {}, 'x509-svid-ttl': {} })
    .optList({ selector: {}, 'dns-name': {} })
    .flag({ admin: {}, help: { short: 'h' } })

t.test('a SPIRE flag with the same meaning is an alias, with a separate or `=` value', async (t) => {
  const v = parseOptions(table(), [
    '-spiffeID',
    'spiffe://example.org/web',
    '-parentID=spiffe://example.org/agent',
    '-selector',
    'unix:uid:1000',
    '--selector',
    'unix:gid:1000',
    '-dns',
    'web.example.org',
    '-x509SVIDTTL',
    '3600',
    '-socketPath',
    '/tmp/admin.sock',
    '-admin',
  ])
  t.same(v, {
    'spiffe-id': 'spiffe://example.org/web',
    'parent-id': 'spiffe://example.org/agent',
    selector: ['unix:uid:1000', 'unix:gid:1000'],
    'dns-name': ['web.example.org'],
    'x509-svid-ttl': '3600',
    'admin-socket': '/tmp/admin.sock',
    admin: true,
  })
  t.same(checkArgs(table(), ['--spiffeID', 'x']), ['--spiffe-id', 'x'], 'Go flag also reads --name')
})

t.test('a value that looks like a SPIRE flag stays a value', async (t) => {
  t.same(checkArgs(table(), ['--reason', '-spiffeID', '-h']), ['--reason', '-spiffeID', '-h'])
  t.same(parseOptions(table(), ['--reason', '-spiffeID']).reason, '-spiffeID')
})

t.test('a SPIRE flag this command cannot honour is refused naming the Sigil option', async (t) => {
  const cases: [string[], RegExp][] = [
    [['-ttl', '60'], /SPIRE's -ttl is not an option here: use --x509-svid-ttl and --jwt-svid-ttl/],
    [['-entryID', 'x'], /SPIRE's -entryID is Sigil's --entry-id, which this command does not take/],
    [['-federatesWith', 'x'], /--federates-with/],
    [['-serverAddress', 'h'], /use --server-address HOST:PORT/],
    [['-downstream'], /SPIRE's -downstream is not an option here/],
    [['--parentIDs', 'x'], /unknown option --parentIDs/],
    [['-noSuchFlag', 'x'], /unknown option -noSuchFlag \(Sigil's options are --kebab-case\)/],
  ]
  for (const [args, message] of cases) {
    t.throws(() => checkArgs(table(), args), message, args.join(' '))
    t.throws(() => checkArgs(table(), args), UsageError)
    try {
      checkArgs(table(), args)
    } catch (e) {
      t.notMatch((e as Error).message, /unexpected argument/i, args.join(' '))
    }
  }
})

t.test('every table entry names kebab-case Sigil options or says what to use instead', async (t) => {
  for (const [name, flag] of Object.entries(SPIRE_FLAGS)) {
    t.match(name, /^[a-z][A-Za-z0-9]*$/, name)
    for (const s of flag.sigil) t.match(s, /^[a-z0-9]+(-[a-z0-9]+)*$/, `${name} → ${s}`)
    t.ok(flag.sigil.length > 0 || flag.instead, `${name} has an alias or an instead`)
  }
})
