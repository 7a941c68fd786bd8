/**
 * Reading a command's input from a file or from stdin (`-`) with a size cap, so a runaway pipe
 * cannot grow the process without bound. Failures are SigilError ERR_CONFIG_INVALID (exit 2)
 * naming the option.
 */
import { readFile } from 'node:fs/promises'
import { SigilError } from '../../certs/errors.js'

/**
 * Everything on `stream` as UTF-8, refused past `maxBytes`.
 *
 * @example
 * const text = await readStream(process.stdin, 65536, 'svid')
 */
export async function readStream(
  stream: NodeJS.ReadableStream,
  maxBytes: number,
  label: string,
): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    size += buf.length
    if (size > maxBytes) {
      throw new SigilError('ERR_CONFIG_INVALID', `${label}: stdin holds more than ${maxBytes} bytes`)
    }
    chunks.push(buf)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The text of `path` (`-`: `stdin`), refused past `maxBytes`.
 *
 * @example
 * const json = await readInput('entries.json', process.stdin, 64 << 20, 'data')
 */
export async function readInput(
  path: string,
  stdin: NodeJS.ReadableStream,
  maxBytes: number,
  label: string,
): Promise<string> {
  if (path === '-') return readStream(stdin, maxBytes, label)
  try {
    const buf = await readFile(path)
    if (buf.length > maxBytes) throw new Error(`larger than ${maxBytes} bytes`)
    return buf.toString('utf8')
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message
    throw new SigilError('ERR_CONFIG_INVALID', `${label} ${path}: ${why}`, { cause })
  }
}
