// Call an API with a JWT-SVID, and check one: the caller asks the agent for a token for
// the API's audience; the API validates it against the trust domain's JWT keys, which the
// JWTSource keeps current.
import { JWTSource } from '../../sdk/index.js'

/** The Authorization header value a caller sends to `audience`. */
export async function bearerFor(audience: string): Promise<string> {
  const jwt = await JWTSource.create()
  try {
    const { token } = await jwt.fetchJwtSvid({ audience: [audience] })
    return `Bearer ${token}`
  } finally {
    jwt.close()
  }
}

/** What the API does with an incoming Authorization header: the caller's SPIFFE ID, or a thrown SigilError. */
export async function callerOf(jwt: JWTSource, authorization: string, audience: string): Promise<string> {
  const token = authorization.replace(/^Bearer /, '')
  const { spiffeId } = await jwt.validateJwtSvid(token, audience)
  return spiffeId.toString()
}
