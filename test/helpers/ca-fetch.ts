// A fetch for jose's createRemoteJWKSet (`[customFetch]`) that trusts one CA: what a relying
// party configured with Sigil's development CA does. jose v6 fetches with the global fetch and
// takes no agent, so requests go through node:https with that CA instead.
import { request } from 'node:https'

/** `fetch(url, init)` over node:https trusting only `ca` (GET, headers passed on, body read in full). */
export function fetchTrusting(ca: string | Buffer) {
  return (url: string, init: { headers?: Headers | Record<string, string>; signal?: AbortSignal } = {}) =>
    new Promise<Response>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'GET',
          ca,
          agent: false,
          headers: Object.fromEntries(new Headers(init.headers ?? {})),
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const headers = new Headers()
            for (const [k, v] of Object.entries(res.headers)) {
              if (typeof v === 'string') headers.set(k, v)
            }
            resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers }))
          })
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end()
    })
}
