#!/bin/sh
# Regenerates the Go SOAP stubs in generated/ from the WSDLs in wsdl/ with the
# gowsdl version pinned as a tool in go.mod (go tool gowsdl). The output is
# deterministic: running this twice leaves the tree byte-identical.
# Never edit generated/*/ by hand; change the WSDL or XSD and run make generate.
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"

gen() {
	service=$1
	rm -f "generated/$service/$service.go"
	# gowsdl writes generated/<pkg>/<file>. It logs on stdout and only logs,
	# without failing, when it cannot generate types or operations, so treat
	# any error or warning line as fatal.
	if ! log=$(go tool gowsdl -p "$service" -o "$service.go" -d generated "wsdl/$service.wsdl" 2>&1); then
		printf '%s\n' "$log" >&2
		exit 1
	fi
	if printf '%s\n' "$log" | grep -Eqi 'error|warn'; then
		printf 'generate.sh: gowsdl complained about wsdl/%s.wsdl:\n%s\n' "$service" "$log" >&2
		exit 1
	fi
	# gowsdl creates the package folder with mode 0744.
	chmod 0755 "generated/$service"
	chmod 0644 "generated/$service/$service.go"
	gofmt -w "generated/$service/$service.go"
}

gen device
gen management
