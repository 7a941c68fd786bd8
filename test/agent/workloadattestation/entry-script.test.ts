import t from 'tap'
import { entryScript } from '../../../agent/workloadattestation/entry-script.js'

const script = (path: string) => ({ kind: 'script', path })
const none = { kind: 'none' }

t.test('node: the first argument after node options is the script', async (t) => {
  const node = '/usr/bin/node'
  t.same(entryScript(node, ['node', 'app.js', '--port', '80']), script('app.js'))
  t.same(entryScript(node, ['node', '/srv/app.js']), script('/srv/app.js'))
  t.same(
    entryScript(node, ['node', '--enable-source-maps', '--max-old-space-size=100', 'a.js']),
    script('a.js'),
  )
  t.same(entryScript(node, ['node', '-r', 'dotenv/config', 'a.js']), script('a.js'))
  t.same(entryScript(node, ['node', '--require', './hook.js', 'a.js']), script('a.js'))
  t.same(entryScript(node, ['node', '--require=./hook.js', 'a.js']), script('a.js'))
  t.same(entryScript(node, ['node', '--import', 'tsx', 'a.ts']), script('a.ts'))
  t.same(entryScript(node, ['node', '--loader', 'ts-node/esm', 'a.ts']), script('a.ts'))
  t.same(entryScript(node, ['node', '--env-file', '.env', 'a.js']), script('a.js'))
  t.same(entryScript(node, ['node', '--title', 'worker', 'a.js']), script('a.js'))
  t.same(entryScript(node, ['node', '--inspect-port', '9300', 'a.js']), script('a.js'))
  t.same(
    entryScript(node, ['node', '--inspect', 'a.js']),
    script('a.js'),
    '--inspect takes no separate value',
  )
  t.same(entryScript(node, ['node', '--stack_size=900', 'a.js']), script('a.js'))
  t.same(
    entryScript(node, ['node', '--env_file', '.env', 'a.js']),
    script('a.js'),
    'underscores read as dashes',
  )
  t.same(entryScript(node, ['node', '--', '-weird.js']), script('-weird.js'))
  t.same(entryScript('/usr/local/bin/nodejs', ['x', 'a.js']), script('a.js'))
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
    t.same(entryScript(node, argv), none, argv.join(' '))
  }
})

t.test('python: options, bundled flags, -W/-X values, -c and -m', async (t) => {
  const py = '/usr/bin/python3.12'
  t.same(entryScript(py, ['python3', 'app.py', '-v']), script('app.py'))
  t.same(entryScript(py, ['python3', '-u', '-B', 'app.py']), script('app.py'))
  t.same(entryScript(py, ['python3', '-uB', 'app.py']), script('app.py'))
  t.same(entryScript(py, ['python3', '-X', 'dev', '-W', 'ignore', 'app.py']), script('app.py'))
  t.same(entryScript(py, ['python3', '-Xdev', '-Wignore', 'app.py']), script('app.py'))
  t.same(entryScript(py, ['python3', '-uW', 'ignore', 'app.py']), script('app.py'))
  t.same(entryScript(py, ['python3', '-OO', '-I', 'app.py']), script('app.py'))
  t.same(entryScript(py, ['python3', '--check-hash-based-pycs', 'never', 'app.py']), script('app.py'))
  t.same(entryScript(py, ['python3', '--', 'app.py']), script('app.py'))
  t.same(entryScript(py, ['python3', '-c', 'print(1)']), none)
  t.same(entryScript(py, ['python3', '-uc', 'print(1)', 'x.py']), none)
  t.same(entryScript(py, ['python3', '-']), none)
  t.same(entryScript(py, ['python3']), none)
  t.same(entryScript(py, ['python3', '-V']), none)
  t.same(entryScript(py, ['python3', '-m', 'http.server', '8000']), { kind: 'module', name: 'http.server' })
  t.same(entryScript(py, ['python3', '-mhttp.server']), { kind: 'module', name: 'http.server' })
  t.same(entryScript('/usr/bin/python', ['python', 'a.py']), script('a.py'))
})

t.test('the interpreter is known by the executable, not by argv[0]', async (t) => {
  t.same(entryScript('/usr/bin/bash', ['node', 'a.js']), none)
  t.same(entryScript('/usr/bin/node', ['bash', 'a.js']), script('a.js'))
  t.same(entryScript('/usr/bin/node (deleted)', ['node', 'a.js']), script('a.js'))
  t.same(entryScript('/usr/bin/nodemon', ['node', 'a.js']), none)
})
