#!/usr/bin/env bash
# Runs every zabkit test. Installs what the tests need when it is missing
# (Debian's Apache ZooKeeper 3.8 as the differential oracle, its C client,
# python3-kazoo, Go modules), so it works on a fresh machine. Idempotent.
#
#   scripts/test.sh          # everything (what CI runs)
#   scripts/test.sh quick    # unit tests only, no external peers
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
[ -x /usr/lib/zookeeper/bin/cli_mt ] || need+=(zookeeper-bin)
/usr/bin/python3 -c 'import kazoo' 2>/dev/null || need+=(python3-kazoo)
command -v java >/dev/null || need+=(default-jre-headless)
[ -f /usr/share/java/curator-recipes.jar ] || need+=(libcurator-framework-java libcurator-recipes-java)
if [ "${1:-}" != quick ] && [ ${#need[@]} -gt 0 ]; then
  echo "== installing test dependencies: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== go mod download"
go mod download

echo "== gofmt / go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
go vet ./...

echo "== dependency direction: core/ imports no implementation"
if go list -deps ./core/... | grep -E 'zabkit/(stores|transports|election|plugins|cmd)/|spf13/viper|hashicorp/go-plugin|cockroachdb/pebble|hashicorp/yamux'; then
  echo "core/ must not depend on the packages above"; exit 1
fi

# Packages that own goroutines run under the race detector.
race_pkgs=$(go list ./core/... ./stores/... ./transports/... ./election/... ./plugins/... ./cmd/... ./internal/...)
if [ "${1:-}" = quick ]; then
  go test -race -count=1 $race_pkgs
  exit 0
fi
echo "== unit and integration tests (race detector)"
go test -race -count=1 -timeout 20m $race_pkgs
echo "== example plugins (own modules): conformance kits in and out of process"
for mod in plugins/examples/*/; do
  (cd "$mod" && go vet ./... && go test -race -count=1 -timeout 10m ./...)
done
echo "== end-to-end tests: real clients, Apache ZooKeeper differential"
go test -count=1 -timeout 25m ./tests/...
echo "== end-to-end again on store.pebble: differential, go-zookeeper, kazoo, kill -9 restart"
ZABKIT_E2E_STORE=store.pebble go test -count=1 -timeout 10m ./tests/diff/ ./tests/e2e/ \
  -run 'TestDifferential|TestGo|TestKazoo|TestCrashKeepsAcknowledgedWrites|TestRawWriteZxids'
echo "== end-to-end on a 3-member zabkit ensemble: differential (seeds 101-120), go-zookeeper, kazoo, kill -9 of every member"
ZABKIT_E2E_ENSEMBLE=3 ZABKIT_DIFF_SEEDS=20 ZABKIT_DIFF_BASE=101 go test -count=1 -timeout 10m ./tests/diff/ ./tests/e2e/ \
  -run 'TestDifferential|TestGo|TestKazoo|TestCrashKeepsAcknowledgedWrites|TestRawWriteZxids'
echo "== end-to-end on a 3-member ensemble of plugins: store.external (bbolt example) + election.external (bully example)"
plugdir=$(mktemp -d)
trap 'rm -rf "$plugdir"' EXIT
(cd plugins/examples/bboltstore && go build -o "$plugdir/bbolt" .)
(cd plugins/examples/bullyelection && go build -o "$plugdir/bully" .)
ZABKIT_E2E_ENSEMBLE=3 ZABKIT_E2E_STORE=store.external ZABKIT_STORE_OPTIONS_PLUGIN="$plugdir/bbolt" \
  ZABKIT_ELECTION_MODULE=election.external ZABKIT_ELECTION_OPTIONS_PLUGIN="$plugdir/bully" \
  go test -count=1 -timeout 10m ./tests/e2e/ -run 'TestGo|TestKazoo|TestCrashKeepsAcknowledgedWrites'
