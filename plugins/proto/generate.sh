#!/usr/bin/env bash
# Regenerates the Go code for the plugin protocol (zabkit/v1/*.proto) into
# zabkit/v1/. The generated files are committed; run this after editing a
# .proto and commit both. Idempotent: tools are installed only when missing
# or at another version, and running it twice changes nothing.
#
#   plugins/proto/generate.sh
#
# protoc comes from Debian's protobuf-compiler package; the Go plugins are
# pinned to versions whose output the module's grpc (v1.61) and protobuf
# runtimes support.
set -euo pipefail
cd "$(dirname "$0")"

PROTOC_GEN_GO=v1.36.12      # google.golang.org/protobuf
PROTOC_GEN_GO_GRPC=v1.3.0   # google.golang.org/grpc/cmd/protoc-gen-go-grpc

if ! command -v protoc >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq protobuf-compiler >/dev/null
fi

bin="$(go env GOPATH)/bin"
export PATH="$bin:$PATH"
have() { # have TOOL VERSION: the tool is installed at that version
  [ -x "$bin/$1" ] && go version -m "$bin/$1" 2>/dev/null | grep -q "mod.*[[:space:]]$2[[:space:]]"
}
have protoc-gen-go "$PROTOC_GEN_GO" ||
  go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO"
have protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC" ||
  go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC"

protoc -I . \
  --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
  zabkit/v1/*.proto
echo "generated: $(ls zabkit/v1/*.go | tr '\n' ' ')"
