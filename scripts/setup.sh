#!/usr/bin/env bash
# Installs the Debian packages RMS's tests and tools need (third-party SOAP
# and XML security tools the interop tests run, plus make and git), skipping
# whatever is installed already. Go itself is expected to be there.
# Used by developers on a fresh machine and by .ci/run.
#
#   scripts/setup.sh          install what is missing
#   scripts/setup.sh --list   print the package list and exit
set -euo pipefail

packages=(
	make                 # the Makefile is the entry point
	git                  # make check compares generated/ with the index
	ca-certificates      # Go module downloads over HTTPS
	libxml2-utils        # xmllint: schema validation of envelopes
	xmlsec1              # xmlsec1: third-party signature checks
	python3-zeep         # zeep: a WSDL-discovered SOAP client
	python3-xmlsec       # zeep's WS-Security signing
	gsoap                # wsdl2h/soapcpp2: firmware-style C/C++ clients
	libgsoap-dev         # gSOAP runtime to link those clients
)

if [[ ${1:-} == --list ]]; then
	printf '%s\n' "${packages[@]}"
	exit 0
fi

missing=()
for p in "${packages[@]}"; do
	if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) != installed ]]; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "setup: all ${#packages[@]} Debian packages present"
	exit 0
fi

if ((EUID == 0)); then
	sudo=()
elif command -v sudo >/dev/null 2>&1; then
	sudo=(sudo)
else
	echo "setup: need root or sudo to install: ${missing[*]}" >&2
	exit 1
fi

echo "setup: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
