// The public barrel, loaded the way a consumer does (through package.json "exports").
import t from 'tap'

t.test('sigil/certs resolves through the exports map and exposes the core', async (t) => {
  const certs = await import('sigil/certs')
  t.equal(certs.SpiffeId.parse('spiffe://example.org/a').path, '/a')
  t.type(certs.X509SvidMinter, 'function')
  t.type(certs.validateJwtSvid, 'function')
  t.type(certs.TrustBundle.create, 'function')
  t.throws(() => certs.SpiffeId.parse('nope'), { code: 'ERR_SPIFFE_ID_INVALID' })
})
