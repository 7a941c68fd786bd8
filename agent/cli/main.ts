#!/usr/bin/env node
/** sigil-agent command line (placeholder until the agent lands). */
process.stdout.write('usage: sigil-agent <command> [options]\n\nThe agent is not built yet; see README.md.\n')
