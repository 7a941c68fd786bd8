/**
 * Finds the entry script in an interpreter's command line (`node [options] x.js`, `python3
 * [options] x.py`), skipping the interpreter's own options. The interpreter is recognised by the
 * basename of the process's executable (from `/proc/<pid>/exe`, not from `argv[0]`).
 *
 * Trust: the command line is written by the process itself and can be rewritten by it later
 * (`process.title`), so the entry script tells apart cooperating components that run the same
 * interpreter as the same user; it is not a boundary between processes of one user (which can
 * ptrace each other anyway).
 */

/** What an interpreter was asked to run. */
export type EntryScript =
  /** A script file, as written on the command line (relative to the process's cwd if not absolute). */
  | { readonly kind: 'script'; readonly path: string }
  /** A module run by name (`python3 -m http.server`). */
  | { readonly kind: 'module'; readonly name: string }
  /** No script file: inline code (`-e`, `-c`), stdin, a REPL, or an interpreter we do not know. */
  | { readonly kind: 'none' }

const NONE: EntryScript = { kind: 'none' }

function optionSet(words: string): ReadonlySet<string> {
  return new Set(words.trim().split(/\s+/))
}

/**
 * Node options that take their value as the next argument when not written `--opt=value`
 * (Node 20/22 `node --help`, plus aliases). V8 options (`--max-old-space-size=…`) need `=`.
 */
const NODE_OPTIONS_WITH_VALUE = optionSet(`
  -r --require --import --loader --experimental-loader -C --conditions --allow-fs-read
  --allow-fs-write --build-snapshot-config --cpu-prof-dir --cpu-prof-interval --cpu-prof-name
  --debug-port --inspect-port --diagnostic-dir --disable-proto --disable-warning
  --dns-result-order --env-file --env-file-if-exists --experimental-default-type
  --experimental-policy --experimental-sea-config --experimental-config-file --heap-prof-dir
  --heap-prof-interval --heap-prof-name --heapsnapshot-near-heap-limit --heapsnapshot-signal
  --icu-data-dir --input-type --inspect-publish-uid --localstorage-file --max-http-header-size
  --network-family-autoselection-attempt-timeout --openssl-config --policy-integrity
  --redirect-warnings --report-dir --report-directory --report-filename --report-signal
  --secure-heap --secure-heap-min --snapshot-blob --test-concurrency --test-name-pattern
  --test-skip-pattern --test-reporter --test-reporter-destination --test-shard --test-timeout
  --title --tls-cipher-list --tls-keylog --trace-event-categories --trace-event-file-pattern
  --trace-require-module --unhandled-rejections --use-largepages --v8-pool-size --watch-path
`)

/** Node options after which there is no script file to run. */
const NODE_OPTIONS_WITHOUT_SCRIPT = optionSet(`
  -e --eval -p --print -pe -c --check -h --help -v --version --v8-options --test --run
  --completion-bash --build-snapshot
`)

/** `node [options] [--] script [args]`. Node spells `--a_b` and `--a-b` alike. */
function nodeEntryScript(args: readonly string[]): EntryScript {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') return args[i + 1] === undefined ? NONE : script(args[i + 1]!)
    if (arg === '-' || !arg.startsWith('-')) return script(arg)
    const eq = arg.indexOf('=')
    const name = (eq < 0 ? arg : arg.slice(0, eq)).replace(/_/g, '-')
    if (NODE_OPTIONS_WITHOUT_SCRIPT.has(name)) return NONE
    if (eq < 0 && NODE_OPTIONS_WITH_VALUE.has(name)) i++
  }
  return NONE
}

/**
 * `python [options] (-c cmd | -m mod | file | -) [args]`. Short options may be bundled (`-uB`)
 * and `-W`/`-X`/`-c`/`-m` take the rest of the bundle or the next argument as their value.
 */
function pythonEntryScript(args: readonly string[]): EntryScript {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') return args[i + 1] === undefined ? NONE : script(args[i + 1]!)
    if (arg === '-' || !arg.startsWith('-')) return script(arg)
    if (arg.startsWith('--')) {
      if (arg === '--check-hash-based-pycs') i++
      else if (arg.startsWith('--help') || arg === '--version') return NONE
      continue
    }
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j]!
      if (flag === 'h' || flag === '?' || flag === 'V') return NONE
      if (flag === 'c' || flag === 'm' || flag === 'W' || flag === 'X') {
        const rest = arg.slice(j + 1)
        const value = rest !== '' ? rest : args[++i]
        if (flag === 'c') return NONE
        if (flag === 'm') return value === undefined || value === '' ? NONE : { kind: 'module', name: value }
        break
      }
    }
  }
  return NONE
}

function script(arg: string): EntryScript {
  return arg === '-' || arg === '' ? NONE : { kind: 'script', path: arg }
}

const INTERPRETERS: readonly {
  readonly name: RegExp
  readonly parse: (args: readonly string[]) => EntryScript
}[] = [
  { name: /^(node|nodejs)[0-9.]*$/, parse: nodeEntryScript },
  { name: /^python[0-9.]*$/, parse: pythonEntryScript },
]

/**
 * The entry script of a command line, if the executable is an interpreter we know (Node.js,
 * Python). `argv` is the full command line, `argv[0]` included (and ignored).
 *
 * @example
 * entryScript('/usr/bin/node', ['node', '--require', 'x', 'app.js']) // { kind: 'script', path: 'app.js' }
 * entryScript('/usr/bin/python3.12', ['python3', '-m', 'http.server']) // { kind: 'module', name: 'http.server' }
 */
export function entryScript(exePath: string, argv: readonly string[]): EntryScript {
  const base = exePath.slice(exePath.lastIndexOf('/') + 1).replace(/ \(deleted\)$/, '')
  const interpreter = INTERPRETERS.find((i) => i.name.test(base))
  return interpreter === undefined ? NONE : interpreter.parse(argv.slice(1))
}
