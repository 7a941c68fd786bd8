// Both daemons log through one logger with ONE redaction list: a field named like a secret
// (svid, token, key, ...) is replaced wherever it appears, for either service.
import { Writable } from 'node:stream'
import t from 'tap'
import { createLogger, REDACTED_FIELDS } from '../../../common/logging/logger.js'

t.test(
  'every redacted field is censored at the top level and one level deep, for both services',
  async (t) => {
    for (const service of ['sigil-server', 'sigil-agent']) {
      const lines: string[] = []
      const log = createLogger(
        service,
        'info',
        new Writable({
          write(chunk, _enc, cb) {
            lines.push(String(chunk))
            cb()
          },
        }),
      )
      for (const field of REDACTED_FIELDS) {
        log.info({ [field]: 'SECRET-VALUE', nested: { [field]: 'SECRET-VALUE' } }, 'line')
      }
      t.equal(lines.length, REDACTED_FIELDS.length)
      for (const line of lines) {
        t.notMatch(line, 'SECRET-VALUE')
        t.equal(JSON.parse(line).service, service)
      }
    }
    t.ok(REDACTED_FIELDS.includes('svid'), 'the agent-only svid redaction now covers the server too')
  },
)
