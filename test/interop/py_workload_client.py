#!/usr/bin/python3
"""Interop client for Sigil's Workload API in another gRPC stack (Python grpcio + cryptography).

It acts like py-spiffe: it reads SPIFFE_ENDPOINT_SOCKET, calls SpiffeWorkloadAPI with the
`workload.spiffe.io: true` header, and applies the same strict checks that py-spiffe and go-spiffe
apply to what the agent sends (SPIFFE.md sections 2, 3 and 5). Stubs are generated at run time from
proto/spiffe/workload/workload.proto into a temp dir; generated code is never committed.

Trust: the agent is the thing under test, so nothing it sends is believed until it is checked here.
Prints one JSON summary on stdout; exits 1 if any check failed, 2 if the client could not start.

Run: SPIFFE_ENDPOINT_SOCKET=unix:///path/agent.sock /usr/bin/python3 py_workload_client.py
"""

import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import grpc
import cryptography
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import ExtendedKeyUsageOID

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROTO = os.path.join("spiffe", "workload", "workload.proto")
HEADER = (("workload.spiffe.io", "true"),)
AUDIENCE = "interop"
TIMEOUT = 15
JWT_ALGS = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}


class Checks:
    """Named pass/fail results; a failed check never stops the run, so the summary shows them all."""

    def __init__(self):
        self.results = {}

    def check(self, name, ok, detail=""):
        ok = bool(ok)
        self.results[name] = True if ok else f"FAIL: {detail}"
        return ok

    def failures(self):
        return [k for k, v in self.results.items() if v is not True]


def generate_stubs(out_dir):
    """Runs grpc_tools.protoc on our proto; returns the imported (pb2, pb2_grpc) modules."""
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(ROOT, "proto"),
         f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", os.path.join(ROOT, "proto", PROTO)],
        check=True,
    )
    sys.path.insert(0, out_dir)
    from spiffe.workload import workload_pb2, workload_pb2_grpc  # noqa: E402 (generated just now)

    return workload_pb2, workload_pb2_grpc


def grpc_target(endpoint):
    """SPIFFE.md 5.1: `unix:///abs` or `unix:/abs`; no authority, absolute path only."""
    if endpoint.startswith("unix://"):
        rest = endpoint[len("unix://"):]
        if not rest.startswith("/"):
            raise ValueError(f"unix address has an authority: {endpoint}")
        return "unix:" + rest
    if endpoint.startswith("unix:/"):
        return endpoint
    raise ValueError(f"not an absolute unix: address: {endpoint}")


def split_der(blob):
    """Walks top-level ASN.1 DER lengths: the concatenation rule of x509_svid and bundle."""
    certs, i = [], 0
    while i < len(blob):
        if blob[i] != 0x30:
            raise ValueError(f"byte {i}: tag 0x{blob[i]:02x} is not a SEQUENCE")
        if i + 2 > len(blob):
            raise ValueError(f"byte {i}: truncated header")
        first = blob[i + 1]
        if first < 0x80:
            length, header = first, 2
        else:
            n = first & 0x7F
            if n == 0 or n > 4:
                raise ValueError(f"byte {i}: length form 0x{first:02x} not allowed in DER")
            length = int.from_bytes(blob[i + 2:i + 2 + n], "big")
            if length < 0x80 or blob[i + 2] == 0:
                raise ValueError(f"byte {i}: length not minimally encoded")
            header = 2 + n
        end = i + header + length
        if end > len(blob):
            raise ValueError(f"byte {i}: element runs past the end ({end} > {len(blob)})")
        certs.append(x509.load_der_x509_certificate(blob[i:end]))
        i = end
    if not certs:
        raise ValueError("no certificates")
    return certs


def is_pkcs8(der):
    """load_der_private_key also takes SEC1/PKCS#1; Go's ParsePKCS8PrivateKey does not. PKCS#8 is
    SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING key }; SEC1 has an OCTET STRING and
    PKCS#1 an INTEGER after the version."""
    if len(der) < 8 or der[0] != 0x30:
        return False
    i = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    return der[i:i + 2] == b"\x02\x01" and der[i + 2] in (0, 1) and der[i + 3] == 0x30


def ext(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def spki(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def verify_signed_by(cert, issuer):
    """Checks cert's signature with issuer's public key (cryptography 38 has no verify_directly_issued_by)."""
    pub = issuer.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
    else:
        raise ValueError(f"unsupported issuer key {type(pub).__name__}")


def verify_chain(chain, roots, now):
    """RFC 5280 path building, reduced: leaf → given intermediates → a bundle root; names, signatures,
    validity, CA flags. Returns the subjects of the path, leaf first."""
    path = [chain[0]]
    pool = list(chain[1:])
    for _ in range(len(chain) + 1):
        cur = path[-1]
        root = next((r for r in roots if r.subject == cur.issuer), None)
        if root is not None:
            verify_signed_by(cur, root)
            path.append(root)
            break
        nxt = next((c for c in pool if c.subject == cur.issuer), None)
        if nxt is None:
            raise ValueError(f"no issuer for {cur.subject.rfc4514_string()}")
        verify_signed_by(cur, nxt)
        pool.remove(nxt)
        path.append(nxt)
    else:
        raise ValueError("no path to a bundle root")
    for depth, c in enumerate(path):
        if not (c.not_valid_before <= now <= c.not_valid_after):
            raise ValueError(f"{c.subject.rfc4514_string()} is outside its validity at {now.isoformat()}")
        if depth > 0:
            bc, ku = ext(c, x509.BasicConstraints), ext(c, x509.KeyUsage)
            if not (bc and bc.ca and ku and ku.key_cert_sign):
                raise ValueError(f"issuer {c.subject.rfc4514_string()} is not a CA with keyCertSign")
            if bc.path_length is not None and depth - 1 > bc.path_length:
                raise ValueError(f"path length of {c.subject.rfc4514_string()} exceeded")
    verify_signed_by(path[-1], path[-1])  # the root is self-signed
    return [c.subject.rfc4514_string() for c in path]


def check_x509_svid(c, svid, now, i):
    """go-spiffe x509svid.ParseRaw + py-spiffe X509Svid.parse_raw + java's spiffe_id == SAN rule."""
    p = f"x509[{i}]."
    info = {"spiffe_id": svid.spiffe_id, "hint": svid.hint}
    try:
        chain = split_der(svid.x509_svid)
    except Exception as e:  # noqa: BLE001
        c.check(p + "x509_svid_is_concatenated_der", False, str(e))
        return info
    c.check(p + "x509_svid_is_concatenated_der", True)
    leaf = chain[0]
    info["chain_length"] = len(chain)
    info["not_after"] = leaf.not_valid_after.isoformat() + "Z"
    uris = ext(leaf, x509.SubjectAlternativeName)
    uris = uris.get_values_for_type(x509.UniformResourceIdentifier) if uris else []
    c.check(p + "leaf_has_one_uri_san", len(uris) == 1, f"URI SANs {uris}")
    c.check(p + "uri_san_equals_spiffe_id", uris == [svid.spiffe_id], f"{uris} vs {svid.spiffe_id!r}")
    sid = svid.spiffe_id
    td_and_path = sid[len("spiffe://"):] if sid.startswith("spiffe://") else ""
    c.check(p + "spiffe_id_well_formed", "/" in td_and_path and not sid.endswith("/"), sid)
    bc = ext(leaf, x509.BasicConstraints)
    c.check(p + "leaf_not_ca", bc is None or not bc.ca, "leaf has cA=true")
    ku = ext(leaf, x509.KeyUsage)
    c.check(p + "leaf_digital_signature", ku is not None and ku.digital_signature, "no digitalSignature")
    c.check(p + "leaf_no_cert_or_crl_sign", ku is not None and not ku.key_cert_sign and not ku.crl_sign,
            "leaf has keyCertSign or cRLSign")
    eku = ext(leaf, x509.ExtendedKeyUsage)
    info["leaf_eku"] = sorted(o._name for o in eku) if eku else []
    info["leaf_eku_server_and_client"] = bool(eku) and {ExtendedKeyUsageOID.SERVER_AUTH,
                                                         ExtendedKeyUsageOID.CLIENT_AUTH} <= set(eku)
    for j, ca in enumerate(chain[1:], 1):
        cbc, cku = ext(ca, x509.BasicConstraints), ext(ca, x509.KeyUsage)
        c.check(f"{p}chain[{j}]_ca_with_key_cert_sign", cbc and cbc.ca and cku and cku.key_cert_sign,
                ca.subject.rfc4514_string())
    try:
        key = serialization.load_der_private_key(svid.x509_svid_key, None)
        info["key_type"] = type(key).__name__.lstrip("_")
        c.check(p + "key_is_pkcs8_der", is_pkcs8(svid.x509_svid_key), "not PKCS#8 (SEC1 or PKCS#1?)")
        c.check(p + "key_matches_leaf", spki(key.public_key()) == spki(leaf.public_key()), "public keys differ")
    except Exception as e:  # noqa: BLE001
        c.check(p + "key_is_pkcs8_der", False, str(e))
    try:
        roots = split_der(svid.bundle)
        info["bundle_certs"] = len(roots)
        c.check(p + "bundle_is_concatenated_der", True)
        for j, r in enumerate(roots):
            rbc = ext(r, x509.BasicConstraints)
            c.check(f"{p}bundle[{j}]_is_ca", rbc is not None and rbc.ca, r.subject.rfc4514_string())
        info["path"] = verify_chain(chain, roots, now)
        c.check(p + "chain_verifies_against_bundle", True)
    except Exception as e:  # noqa: BLE001
        c.check(p + "bundle_and_chain_verify", False, f"{type(e).__name__}: {e}")
    return info


def b64url(part):
    """Unpadded base64url, as JWS compact requires; padding or other alphabets fail."""
    if "=" in part or "+" in part or "/" in part:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwk_public_key(jwk):
    """An EC P-256 JWK as go-jose reads it: coordinates exactly 32 bytes."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError(f"not an EC P-256 JWK: kty={jwk.get('kty')} crv={jwk.get('crv')}")
    x, y = b64url(jwk["x"]), b64url(jwk["y"])
    if len(x) != 32 or len(y) != 32:
        raise ValueError(f"coordinate lengths {len(x)}/{len(y)}, want 32/32")
    return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                         ec.SECP256R1()).public_key()


def check_jwt(c, stub, pb2, td):
    info = {}
    resp = stub.FetchJWTSVID(pb2.JWTSVIDRequest(audience=[AUDIENCE]), metadata=HEADER, timeout=TIMEOUT)
    c.check("jwt.svids_non_empty", len(resp.svids) >= 1, "no JWT-SVIDs")
    if not resp.svids:
        return info, None
    jsvid = resp.svids[0]
    token = jsvid.svid
    parts = token.split(".")
    if not c.check("jwt.compact_three_parts", len(parts) == 3, f"{len(parts)} parts"):
        return info, token
    try:
        header, claims = json.loads(b64url(parts[0])), json.loads(b64url(parts[1]))
        sig = b64url(parts[2])
    except Exception as e:  # noqa: BLE001
        c.check("jwt.base64url_json", False, str(e))
        return info, token
    info.update(header=header, aud=claims.get("aud"), sub=claims.get("sub"))
    c.check("jwt.header_only_alg_kid_typ", set(header) <= {"alg", "kid", "typ"}, sorted(header))
    c.check("jwt.alg_es256", header.get("alg") == "ES256" and header["alg"] in JWT_ALGS, header.get("alg"))
    c.check("jwt.kid_present", isinstance(header.get("kid"), str) and header["kid"] != "", "no kid")
    c.check("jwt.typ_jwt", header.get("typ") == "JWT", header.get("typ"))
    c.check("jwt.sub_equals_spiffe_id", claims.get("sub") == jsvid.spiffe_id,
            f"{claims.get('sub')!r} vs {jsvid.spiffe_id!r}")
    aud = claims.get("aud")
    c.check("jwt.aud_is_list_with_audience", isinstance(aud, list) and AUDIENCE in aud, repr(aud))
    exp = claims.get("exp")
    c.check("jwt.exp_in_future", isinstance(exp, (int, float)) and exp > time.time(), repr(exp))
    bundles = next(iter(stub.FetchJWTBundles(pb2.JWTBundlesRequest(), metadata=HEADER, timeout=TIMEOUT)))
    c.check("jwt.bundles_have_own_td", td in bundles.bundles, sorted(bundles.bundles))
    try:
        jwks = json.loads(bundles.bundles[td].decode("utf-8"))
        keys = jwks["keys"]
        info["jwks_keys"] = len(keys)
        # SPIRE sends plain JWKS here (SPIFFE.md 7): no `use`, no spiffe_* members, a kid on every key.
        c.check("jwt.jwks_plain_with_kid",
                all(k.get("kid") and "x5c" not in k and k.get("use", "jwt-svid") == "jwt-svid" for k in keys)
                and not any(m.startswith("spiffe_") for m in jwks), json.dumps(jwks))
        jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None)
        if c.check("jwt.kid_in_bundle", jwk is not None, f"kid {header.get('kid')!r} not in bundle"):
            pub = jwk_public_key(jwk)
            if not c.check("jwt.es256_signature_64_bytes", len(sig) == 64, f"{len(sig)} bytes"):
                return info, token
            der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            pub.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
            c.check("jwt.signature_verifies", True)
    except InvalidSignature:
        c.check("jwt.signature_verifies", False, "ES256 signature does not verify with the bundle key")
    except Exception as e:  # noqa: BLE001
        c.check("jwt.bundle_key_usable", False, f"{type(e).__name__}: {e}")
    return info, token


def rpc_code(fn):
    try:
        fn()
        return "OK"
    except grpc.RpcError as e:
        return e.code().name


def main():
    checks = Checks()
    summary = {"grpcio": grpc.__version__, "cryptography": cryptography.__version__}
    endpoint = os.environ.get("SPIFFE_ENDPOINT_SOCKET", "")
    tmp = tempfile.mkdtemp(prefix="sigil-py-stubs-")
    try:
        pb2, pb2_grpc = generate_stubs(tmp)
        channel = grpc.insecure_channel(grpc_target(endpoint))
    except Exception as e:  # noqa: BLE001
        shutil.rmtree(tmp, ignore_errors=True)
        print(json.dumps({**summary, "ok": False, "startup_error": f"{type(e).__name__}: {e}"}))
        return 2
    stub = pb2_grpc.SpiffeWorkloadAPIStub(channel)
    now = datetime.datetime.utcnow()
    try:
        first = next(iter(stub.FetchX509SVID(pb2.X509SVIDRequest(), metadata=HEADER, timeout=TIMEOUT)))
        checks.check("x509.svids_non_empty", len(first.svids) >= 1, "no SVIDs")
        summary["x509"] = [check_x509_svid(checks, s, now, i) for i, s in enumerate(first.svids)]
        summary["federated_bundles"] = sorted(first.federated_bundles)
        default_id = first.svids[0].spiffe_id if first.svids else ""
        td = default_id[: default_id.find("/", len("spiffe://"))] if default_id else ""
        summary["spiffe_id"] = default_id
        xb = next(iter(stub.FetchX509Bundles(pb2.X509BundlesRequest(), metadata=HEADER, timeout=TIMEOUT)))
        checks.check("x509_bundles.has_own_td", td in xb.bundles, sorted(xb.bundles))
        if td in xb.bundles:
            checks.check("x509_bundles.own_td_equals_svid_bundle", xb.bundles[td] == first.svids[0].bundle,
                         "differs from X509SVID.bundle")
        jwt_info, token = check_jwt(checks, stub, pb2, td)
        summary["jwt"] = jwt_info
        if token:
            v = stub.ValidateJWTSVID(pb2.ValidateJWTSVIDRequest(audience=AUDIENCE, svid=token),
                                     metadata=HEADER, timeout=TIMEOUT)
            checks.check("validate.spiffe_id", v.spiffe_id == jwt_info.get("sub") == default_id,
                         f"{v.spiffe_id!r}")
            claims = dict(v.claims)
            checks.check("validate.claims_sub", claims.get("sub") == default_id, repr(claims.get("sub")))
            summary["validate"] = {"spiffe_id": v.spiffe_id, "claims": sorted(claims)}
        no_header = {
            "FetchX509SVID": rpc_code(lambda: next(iter(stub.FetchX509SVID(pb2.X509SVIDRequest(), timeout=TIMEOUT)))),
            "FetchJWTSVID": rpc_code(lambda: stub.FetchJWTSVID(pb2.JWTSVIDRequest(audience=[AUDIENCE]),
                                                               timeout=TIMEOUT)),
        }
        summary["no_header"] = no_header
        for method, code in no_header.items():
            checks.check(f"no_header.{method}_invalid_argument", code == "INVALID_ARGUMENT", code)
    except grpc.RpcError as e:
        checks.check("rpc", False, f"{e.code().name}: {e.details()}")
    finally:
        channel.close()
        shutil.rmtree(tmp, ignore_errors=True)
    summary["checks"] = checks.results
    summary["failures"] = checks.failures()
    summary["ok"] = not summary["failures"]
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
