/**
 * The README's configuration tables, generated from the binaries' option tables so the
 * two cannot drift. `node dist/scripts/docs/options-table.js` prints them; the test
 * test/docs/readme.test.ts checks README.md contains exactly what this prints.
 */
import { ARGV_REFUSED_OPTIONS, agentOptions } from '../../agent/config/agent-options.js'
import { serverOptions } from '../../server/config/server-options.js'

interface OptionDefinition {
  readonly type: string
  readonly default?: unknown
  readonly description?: string
  readonly hint?: string
}

/**
 * One Markdown table row per option: flag, `SIGIL_*` variable, config-file key, default, meaning.
 * Options in `argvRefused` (secrets) show "(not a flag)" in the flag column.
 *
 * @example
 * optionsMarkdownTable(serverOptions({}).definitions)
 */
export function optionsMarkdownTable(
  definitions: Record<string, OptionDefinition>,
  argvRefused: ReadonlySet<string> = new Set(),
): string {
  const rows = ['| flag | environment | file key | default | meaning |', '|---|---|---|---|---|']
  for (const [name, d] of Object.entries(definitions)) {
    if (name === 'help' || name === 'config') continue
    const flag = argvRefused.has(name)
      ? '(not a flag)'
      : d.type === 'boolean'
        ? `\`--${name}\``
        : `\`--${name} <${d.hint ?? 'value'}>\``
    const env = `SIGIL_${name.toUpperCase().replaceAll('-', '_')}`
    const fallback = d.default === undefined ? '' : `\`${String(d.default)}\``
    const meaning = (d.description ?? '').replaceAll('|', '\\|').replace(/\s+/g, ' ')
    rows.push(`| ${flag} | \`${env}\` | \`${name.replaceAll('-', '_')}\` | ${fallback} | ${meaning} |`)
  }
  return rows.join('\n')
}

/** Both tables, as they appear in README.md. */
export function configurationTables(): { server: string; agent: string } {
  return {
    server: optionsMarkdownTable(serverOptions({}).definitions),
    agent: optionsMarkdownTable(agentOptions({}).definitions, ARGV_REFUSED_OPTIONS),
  }
}

if (process.argv[1]?.endsWith('options-table.js')) {
  const { server, agent } = configurationTables()
  process.stdout.write(`### sigil-server run\n\n${server}\n\n### sigil-agent run\n\n${agent}\n`)
}
