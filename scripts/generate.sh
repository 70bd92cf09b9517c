#!/bin/sh
# Regenerates the Go SOAP stubs in generated/ from the WSDLs in wsdl/ with the
# gowsdl version pinned as a tool in go.mod (go tool gowsdl). The output is
# deterministic: running this twice leaves the tree byte-identical.
# Never edit generated/*/ by hand; change the WSDL or XSD and run make generate.
#
# Usage: scripts/generate.sh [OUTDIR]
# OUTDIR defaults to generated/ in the repository; the tests pass a temporary
# folder to check that the committed stubs are up to date.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
out=${1:-$root/generated}
mkdir -p "$out"
out=$(CDPATH= cd -- "$out" && pwd)
cd "$root"

# gofmt from the Go toolchain that runs gowsdl, even when it is not on PATH.
gofmt=$(go env GOROOT)/bin/gofmt

gen() {
	service=$1
	rm -f "$out/$service/$service.go"
	# gowsdl writes <out>/<pkg>/<file>. It logs on stdout and only logs,
	# without failing, when it cannot generate types or operations, so treat
	# any line other than its usual progress lines as fatal.
	if ! log=$(go tool gowsdl -p "$service" -o "$service.go" -d "$out" "wsdl/$service.wsdl" 2>&1); then
		printf '%s\n' "$log" >&2
		exit 1
	fi
	if printf '%s\n' "$log" | grep -Ev 'Reading +file|Done' | grep -q .; then
		printf 'generate.sh: gowsdl complained about wsdl/%s.wsdl:\n%s\n' "$service" "$log" >&2
		exit 1
	fi
	# gowsdl creates the package folder with mode 0744.
	chmod 0755 "$out/$service"
	chmod 0644 "$out/$service/$service.go"
	"$gofmt" -w "$out/$service/$service.go"
}

gen device
gen management
