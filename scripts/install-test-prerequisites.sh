#!/usr/bin/env bash
# The Debian/Ubuntu packages `npm install` and `npm test` need beyond Node.js 20: a C/C++
# toolchain for the native addon (node-gyp), openssl (independent certificate checks), and
# two independent Workload API clients (Python grpcio + cryptography; Go grpc-go +
# crypto/x509, whose stubs protoc generates), and PostgreSQL (the datastore tests start a
# throw-away server from its binaries in /usr/lib/postgresql/*/bin). The README quick start lists the same packages
# (test/docs/readme.test.ts keeps them equal). Run as root: sudo bash scripts/install-test-prerequisites.sh
set -euo pipefail
PACKAGES=(
  build-essential python3
  openssl curl
  python3-grpcio python3-grpc-tools python3-protobuf python3-cryptography
  golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc
  golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
  postgresql
)
if [ "${1:-}" = "--list" ]; then
  echo "${PACKAGES[*]}"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "run as root (sudo bash $0), or install: ${PACKAGES[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
