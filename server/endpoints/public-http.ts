/**
 * Small helpers the public HTTP endpoints share: short text answers and request-target parsing.
 */
import type { ServerResponse } from 'node:http'

/** A short text answer: `<status> <text>\n`. */
export function reply(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  const body = `${status} ${text}\n`
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  })
  res.end(body)
}

/** The query of a request target (empty when none or unparsable). */
export function queryOf(url: string | undefined): URLSearchParams {
  try {
    return new URL(url ?? '/', 'https://bundle.invalid').searchParams
  } catch {
    return new URLSearchParams()
  }
}

/** The path of a request target (origin form `/x?y` or absolute form `https://h/x`). */
export function pathOf(url: string | undefined): string | undefined {
  if (!url) return undefined
  if (url.startsWith('/')) return url.split('?')[0]
  try {
    return new URL(url).pathname
  } catch {
    return undefined
  }
}
