// Interop client for Sigil's Workload API in Go's gRPC stack with Go's crypto/x509: the parsers
// go-spiffe itself uses (x509.ParseCertificates, x509.ParsePKCS8PrivateKey, Certificate.Verify).
// It mirrors go-spiffe's x509svid.ParseRaw and jwtsvid.ParseAndValidate checks. Built at test run
// time in GOPATH mode (Debian's golang-google-grpc-dev, no module proxy) together with stubs that
// protoc generates into a temp dir as package sigilinterop/workloadpb; nothing generated is
// committed. Trust: the agent is under test, so nothing it sends is believed until checked here.
// Prints one JSON summary; exits 1 if any check failed, 2 if it could not start.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "sigilinterop/workloadpb"
)

const audience = "interop"

type checks map[string]interface{}

func (c checks) check(name string, ok bool, detail string) bool {
	if ok {
		c[name] = true
	} else {
		c[name] = "FAIL: " + detail
	}
	return ok
}

func withHeader(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io", "true")
}

// checkX509 is go-spiffe x509svid.ParseRaw plus Verify against the SVID's own bundle.
func checkX509(c checks, s *pb.X509SVID, i int) map[string]interface{} {
	p := fmt.Sprintf("x509[%d].", i)
	info := map[string]interface{}{"spiffe_id": s.SpiffeId}
	chain, err := x509.ParseCertificates(s.X509Svid)
	if !c.check(p+"parse_certificates", err == nil && len(chain) > 0, fmt.Sprint(err)) {
		return info
	}
	leaf := chain[0]
	info["chain_length"] = len(chain)
	uris := []string{}
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	c.check(p+"leaf_has_one_uri_san", len(uris) == 1, fmt.Sprint(uris))
	c.check(p+"uri_san_equals_spiffe_id", len(uris) == 1 && uris[0] == s.SpiffeId, fmt.Sprint(uris))
	c.check(p+"leaf_not_ca", !leaf.IsCA, "leaf has cA=true")
	c.check(p+"leaf_digital_signature", leaf.KeyUsage&x509.KeyUsageDigitalSignature != 0, "no digitalSignature")
	c.check(p+"leaf_no_cert_or_crl_sign", leaf.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) == 0,
		"keyCertSign or cRLSign set")
	inter := x509.NewCertPool()
	for j, ca := range chain[1:] {
		c.check(fmt.Sprintf("%schain[%d]_ca_with_key_cert_sign", p, j+1),
			ca.IsCA && ca.KeyUsage&x509.KeyUsageCertSign != 0, ca.Subject.String())
		inter.AddCert(ca)
	}
	key, err := x509.ParsePKCS8PrivateKey(s.X509SvidKey)
	if c.check(p+"key_is_pkcs8_der", err == nil, fmt.Sprint(err)) {
		signer, ok := key.(crypto.Signer)
		type equaler interface{ Equal(crypto.PublicKey) bool }
		eq, ok2 := leaf.PublicKey.(equaler)
		c.check(p+"key_matches_leaf", ok && ok2 && eq.Equal(signer.Public()), "public keys differ")
	}
	roots, err := x509.ParseCertificates(s.Bundle)
	if !c.check(p+"bundle_parse_certificates", err == nil && len(roots) > 0, fmt.Sprint(err)) {
		return info
	}
	info["bundle_certs"] = len(roots)
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	c.check(p+"chain_verifies_against_bundle", err == nil && len(chains) > 0, fmt.Sprint(err))
	// A plain TLS stack checks EKUs, so the leaf must also verify as a TLS client and server.
	_, errClient := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	_, errServer := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	c.check(p+"tls_client_and_server_eku", errClient == nil && errServer == nil, fmt.Sprint(errClient, errServer))
	return info
}

func b64url(s string) ([]byte, error) { return base64.RawURLEncoding.Strict().DecodeString(s) }

type jwk struct {
	Kty, Crv, X, Y, Kid, Use string
	X5c                      []string `json:"x5c"`
}

// checkJWT is go-spiffe jwtsvid.ParseAndValidate's path: header allow-list, kid, bundle lookup, signature, aud.
func checkJWT(ctx context.Context, c checks, cl pb.SpiffeWorkloadAPIClient, td string) (map[string]interface{}, string) {
	info := map[string]interface{}{}
	resp, err := cl.FetchJWTSVID(withHeader(ctx), &pb.JWTSVIDRequest{Audience: []string{audience}})
	if !c.check("jwt.fetch", err == nil && len(resp.Svids) > 0, fmt.Sprint(err)) {
		return info, ""
	}
	token := resp.Svids[0].Svid
	parts := strings.Split(token, ".")
	if !c.check("jwt.compact_three_parts", len(parts) == 3, fmt.Sprint(len(parts))) {
		return info, token
	}
	var header map[string]interface{}
	var claims struct {
		Sub string      `json:"sub"`
		Aud interface{} `json:"aud"`
		Exp float64     `json:"exp"`
	}
	h, err1 := b64url(parts[0])
	cl2, err2 := b64url(parts[1])
	sig, err3 := b64url(parts[2])
	if !c.check("jwt.base64url", err1 == nil && err2 == nil && err3 == nil, fmt.Sprint(err1, err2, err3)) {
		return info, token
	}
	if !c.check("jwt.json", json.Unmarshal(h, &header) == nil && json.Unmarshal(cl2, &claims) == nil, "bad JSON") {
		return info, token
	}
	info["header"], info["aud"], info["sub"] = header, claims.Aud, claims.Sub
	extra := []string{}
	for k := range header {
		if k != "alg" && k != "kid" && k != "typ" {
			extra = append(extra, k)
		}
	}
	c.check("jwt.header_only_alg_kid_typ", len(extra) == 0, fmt.Sprint(extra))
	c.check("jwt.alg_es256", header["alg"] == "ES256", fmt.Sprint(header["alg"]))
	kid, _ := header["kid"].(string)
	c.check("jwt.kid_present", kid != "", "no kid")
	c.check("jwt.typ_jwt", header["typ"] == "JWT", fmt.Sprint(header["typ"]))
	c.check("jwt.sub_equals_spiffe_id", claims.Sub == resp.Svids[0].SpiffeId, claims.Sub)
	aud, isList := claims.Aud.([]interface{})
	hasAud := false
	for _, a := range aud {
		hasAud = hasAud || a == audience
	}
	c.check("jwt.aud_is_list_with_audience", isList && hasAud, fmt.Sprint(claims.Aud))
	c.check("jwt.exp_in_future", claims.Exp > float64(time.Now().Unix()), fmt.Sprint(claims.Exp))
	stream, err := cl.FetchJWTBundles(withHeader(ctx), &pb.JWTBundlesRequest{})
	if !c.check("jwt.bundles_stream", err == nil, fmt.Sprint(err)) {
		return info, token
	}
	bundles, err := stream.Recv()
	if !c.check("jwt.bundles_have_own_td", err == nil && bundles.Bundles[td] != nil, fmt.Sprint(err)) {
		return info, token
	}
	var set struct{ Keys []jwk }
	if !c.check("jwt.jwks_json", json.Unmarshal(bundles.Bundles[td], &set) == nil, "bad JWKS") {
		return info, token
	}
	var key *jwk
	for i := range set.Keys {
		if set.Keys[i].Kid == kid {
			key = &set.Keys[i]
		}
	}
	if !c.check("jwt.kid_in_bundle", key != nil, kid) {
		return info, token
	}
	x, errX := b64url(key.X)
	y, errY := b64url(key.Y)
	// go-jose rejects EC JWK coordinates that are not exactly the curve size.
	if !c.check("jwt.jwk_p256_32_byte_coordinates",
		key.Kty == "EC" && key.Crv == "P-256" && errX == nil && errY == nil && len(x) == 32 && len(y) == 32,
		fmt.Sprint(key.Kty, key.Crv, len(x), len(y))) {
		return info, token
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	c.check("jwt.jwk_on_curve", pub.Curve.IsOnCurve(pub.X, pub.Y), "point not on P-256")
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	c.check("jwt.signature_verifies", len(sig) == 64 &&
		ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])),
		fmt.Sprintf("%d-byte signature does not verify", len(sig)))
	return info, token
}

func codeOf(err error) string {
	if err == nil {
		return "OK"
	}
	return status.Code(err).String()
}

func main() {
	summary := map[string]interface{}{"go": runtime.Version(), "grpc_go": grpc.Version}
	c := checks{}
	endpoint := os.Getenv("SPIFFE_ENDPOINT_SOCKET")
	target := ""
	switch {
	case strings.HasPrefix(endpoint, "unix:///"):
		target = "unix:" + strings.TrimPrefix(endpoint, "unix://")
	case strings.HasPrefix(endpoint, "unix:/") && !strings.HasPrefix(endpoint, "unix://"):
		target = endpoint
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, target, grpc.WithInsecure())
	if target == "" || err != nil {
		summary["ok"], summary["startup_error"] = false, fmt.Sprintf("endpoint %q: %v", endpoint, err)
		out, _ := json.Marshal(summary)
		fmt.Println(string(out))
		os.Exit(2)
	}
	defer conn.Close()
	cl := pb.NewSpiffeWorkloadAPIClient(conn)
	run(ctx, c, cl, summary)
	failures := []string{}
	for k, v := range c {
		if v != true {
			failures = append(failures, k)
		}
	}
	sort.Strings(failures)
	summary["checks"], summary["failures"], summary["ok"] = c, failures, len(failures) == 0
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	_ = enc.Encode(summary)
	fmt.Print(out.String())
	if len(failures) > 0 {
		os.Exit(1)
	}
}

func run(ctx context.Context, c checks, cl pb.SpiffeWorkloadAPIClient, summary map[string]interface{}) {
	stream, err := cl.FetchX509SVID(withHeader(ctx), &pb.X509SVIDRequest{})
	var first *pb.X509SVIDResponse
	if err == nil {
		first, err = stream.Recv()
	}
	if !c.check("x509.svids_non_empty", err == nil && len(first.Svids) > 0, fmt.Sprint(err)) {
		return
	}
	infos := []interface{}{}
	for i, s := range first.Svids {
		infos = append(infos, checkX509(c, s, i))
	}
	summary["x509"] = infos
	id := first.Svids[0].SpiffeId
	summary["spiffe_id"] = id
	td := id
	if k := strings.Index(id[len("spiffe://"):], "/"); strings.HasPrefix(id, "spiffe://") && k >= 0 {
		td = id[:len("spiffe://")+k]
	}
	bstream, err := cl.FetchX509Bundles(withHeader(ctx), &pb.X509BundlesRequest{})
	var xb *pb.X509BundlesResponse
	if err == nil {
		xb, err = bstream.Recv()
	}
	c.check("x509_bundles.own_td_equals_svid_bundle", err == nil && bytes.Equal(xb.Bundles[td], first.Svids[0].Bundle),
		fmt.Sprint(err))
	info, token := checkJWT(ctx, c, cl, td)
	summary["jwt"] = info
	if token != "" {
		v, err := cl.ValidateJWTSVID(withHeader(ctx), &pb.ValidateJWTSVIDRequest{Audience: audience, Svid: token})
		c.check("validate.spiffe_id", err == nil && v.SpiffeId == id, fmt.Sprint(err))
		if err == nil {
			c.check("validate.claims_sub", v.Claims.GetFields()["sub"].GetStringValue() == id, "claims.sub differs")
		}
	}
	noHeader := map[string]string{}
	s2, err := cl.FetchX509SVID(ctx, &pb.X509SVIDRequest{})
	if err == nil {
		_, err = s2.Recv()
	}
	noHeader["FetchX509SVID"] = codeOf(err)
	_, err = cl.FetchJWTSVID(ctx, &pb.JWTSVIDRequest{Audience: []string{audience}})
	noHeader["FetchJWTSVID"] = codeOf(err)
	summary["no_header"] = noHeader
	for m, code := range noHeader {
		c.check("no_header."+m+"_invalid_argument", code == codes.InvalidArgument.String(), code)
	}
}
