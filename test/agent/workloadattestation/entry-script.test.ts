import t from 'tap'
import { entryScript } from '../../../agent/workloadattestation/entry-script.js'

const script = (path: string) => ({ kind: 'script', path })
const none = { kind: 'none' }

t.test('node: the first argument after node options is the script', async (t) => {
  const node = '/usr/bin/node'
  t.match(entryScript(node, ['node', 'app.js', '--port', '80']), script('app.js'))
  t.match(entryScript(node, ['node', '/srv/app.js']), script('/srv/app.js'))
  t.match(
    entryScript(node, ['node', '--enable-source-maps', '--max-old-space-size=100', 'a.js']),
    script('a.js'),
  )
  t.match(entryScript(node, ['node', '-r', 'dotenv/config', 'a.js']), script('a.js'))
  t.match(entryScript(node, ['node', '--require', './hook.js', 'a.js']), script('a.js'))
  t.match(entryScript(node, ['node', '--require=./hook.js', 'a.js']), script('a.js'))
  t.match(entryScript(node, ['node', '--import', 'tsx', 'a.ts']), script('a.ts'))
  t.match(entryScript(node, ['node', '--loader', 'ts-node/esm', 'a.ts']), script('a.ts'))
  t.match(entryScript(node, ['node', '--env-file', '.env', 'a.js']), script('a.js'))
  t.match(entryScript(node, ['node', '--title', 'worker', 'a.js']), script('a.js'))
  t.match(entryScript(node, ['node', '--inspect-port', '9300', 'a.js']), script('a.js'))
  t.match(
    entryScript(node, ['node', '--inspect', 'a.js']),
    script('a.js'),
    '--inspect takes no separate value',
  )
  t.match(entryScript(node, ['node', '--stack_size=900', 'a.js']), script('a.js'))
  t.match(
    entryScript(node, ['node', '--env_file', '.env', 'a.js']),
    script('a.js'),
    'underscores read as dashes',
  )
  t.match(entryScript(node, ['node', '--', '-weird.js']), script('-weird.js'))
  t.match(entryScript('/usr/local/bin/nodejs', ['x', 'a.js']), script('a.js'))
})

t.test('node: inline code, stdin, REPL and runners give no script', async (t) => {
  const node = '/usr/bin/node'
  for (const argv of [
    ['node'],
    ['node', '-e', 'setInterval(() => {}, 1000)'],
    ['node', '--eval=1'],
    ['node', '-p', '1+1'],
    ['node', '-pe', '1+1'],
    ['node', '--print', '1'],
    ['node', '-'],
    ['node', '--test', 'a.test.js'],
    ['node', '-c', 'a.js'],
    ['node', '-r', 'x'],
    ['node', '--'],
    ['node', '--version'],
  ]) {
    t.match(entryScript(node, argv), none, argv.join(' '))
  }
})

t.test('python: options, bundled flags, -W/-X values, -c and -m', async (t) => {
  const py = '/usr/bin/python3.12'
  t.match(entryScript(py, ['python3', 'app.py', '-v']), script('app.py'))
  t.match(entryScript(py, ['python3', '-u', '-B', 'app.py']), script('app.py'))
  t.match(entryScript(py, ['python3', '-uB', 'app.py']), script('app.py'))
  t.match(entryScript(py, ['python3', '-X', 'dev', '-W', 'ignore', 'app.py']), script('app.py'))
  t.match(entryScript(py, ['python3', '-Xdev', '-Wignore', 'app.py']), script('app.py'))
  t.match(entryScript(py, ['python3', '-uW', 'ignore', 'app.py']), script('app.py'))
  t.match(entryScript(py, ['python3', '-OO', '-I', 'app.py']), script('app.py'))
  t.match(entryScript(py, ['python3', '--check-hash-based-pycs', 'never', 'app.py']), script('app.py'))
  t.match(entryScript(py, ['python3', '--', 'app.py']), script('app.py'))
  t.match(entryScript(py, ['python3', '-c', 'print(1)']), none)
  t.match(entryScript(py, ['python3', '-uc', 'print(1)', 'x.py']), none)
  t.match(entryScript(py, ['python3', '-']), none)
  t.match(entryScript(py, ['python3']), none)
  t.match(entryScript(py, ['python3', '-V']), none)
  t.match(entryScript(py, ['python3', '-m', 'http.server', '8000']), { kind: 'module', name: 'http.server' })
  t.match(entryScript(py, ['python3', '-mhttp.server']), { kind: 'module', name: 'http.server' })
  t.match(entryScript('/usr/bin/python', ['python', 'a.py']), script('a.py'))
})

t.test('the interpreter is known by the executable, not by argv[0]', async (t) => {
  t.match(entryScript('/usr/bin/bash', ['node', 'a.js']), none)
  t.match(entryScript('/usr/bin/node', ['bash', 'a.js']), script('a.js'))
  t.match(entryScript('/usr/bin/node (deleted)', ['node', 'a.js']), script('a.js'))
  t.match(entryScript('/usr/bin/nodemon', ['node', 'a.js']), none)
})

t.test('the interpreter and its options before the script are reported', async (t) => {
  t.same(entryScript('/usr/bin/node', ['node', '--import=./x.mjs', '-r', 'y', '--inspect', 'a.js', '-r']), {
    kind: 'script',
    path: 'a.js',
    interpreter: 'node',
    options: ['--import', '-r', '--inspect'],
  })
  t.same(entryScript('/usr/bin/node', ['node', '--experimental_loader', 'l.mjs', 'a.js']).kind, 'script')
  t.match(entryScript('/usr/bin/node', ['node', '--experimental_loader', 'l.mjs', 'a.js']), {
    options: ['--experimental-loader'],
  })
  t.same(
    entryScript('/usr/bin/python3', ['python3', '-iuB', '-X', 'pycache_prefix=/tmp', '-Wignore', 'a.py']),
    {
      kind: 'script',
      path: 'a.py',
      interpreter: 'python',
      options: ['-i', '-u', '-B', '-X:pycache_prefix', '-W'],
    },
  )
  t.same(entryScript('/usr/bin/python3', ['python3', '-I', '-m', 'mod']), {
    kind: 'module',
    name: 'mod',
    interpreter: 'python',
    options: ['-I'],
  })
})
