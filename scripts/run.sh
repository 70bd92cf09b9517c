#!/usr/bin/env bash
# The main job, behind `make run`: a dev PKI in var/pki (created once), the
# server on https://localhost:8443 with the embedded SQLite store in var/,
# and a handful of simulated devices. Ctrl-C stops all of it.
#
# Settings (environment): RMS_LISTEN (default :8443), SIM_DEVICES (5),
# SIM_INTERVAL (10s).
set -euo pipefail
cd "$(dirname "$0")/.."

listen=${RMS_LISTEN:-:8443}
port=${listen##*:}
devices=${SIM_DEVICES:-5}
interval=${SIM_INTERVAL:-10s}
url="https://localhost:${port}"

mkdir -p var
if [ ! -f var/pki/ca.key ]; then
	bin/rmsctl pki init --dir var/pki >/dev/null
	echo "created a dev PKI in var/pki"
fi
# The admin password is made once and kept beside the store it belongs to,
# so every `make run` can show it.
if [ ! -s var/admin-password ]; then
	if [ -f var/rms.db ]; then
		echo "var/rms.db exists but var/admin-password does not; run 'make clean' to start afresh" >&2
		exit 1
	fi
	(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > var/admin-password)
fi
password=$(cat var/admin-password)

pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping…"
	kill -TERM "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

RMS_ADMIN_PASSWORD=$password bin/rms-server --listen "$listen" --pki var/pki --db sqlite:var/rms.db \
	--data-dir var/data >var/server.out 2>var/server.log &
pids+=($!)

for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then break; fi
	if ! kill -0 "${pids[0]}" 2>/dev/null; then
		echo "rms-server did not start:" >&2
		cat var/server.log >&2
		exit 1
	fi
	sleep 0.1
done

cat <<BANNER

  RMS is running (embedded store var/rms.db, dev PKI var/pki)

    DeviceService       ${url}/soap/device   (WSDL: ${url}/soap/device?wsdl)
    ManagementService   ${url}/soap/manage   (WSDL: ${url}/soap/manage?wsdl)
    Metrics             ${url}/metrics
    Health              ${url}/healthz  ${url}/readyz
    Admin login         admin / ${password}

    Try, in another terminal:
      export RMS_SERVER=${url} RMS_CA=var/pki/ca.crt RMS_PASSWORD=${password}
      bin/rmsctl devices list
      bin/rmsctl alarms list
      bin/rmsctl instructions queue sim-00001 RunDiagnostic name=selftest

    Server log: var/server.log.  ${devices} simulated devices below; Ctrl-C stops everything.

BANNER

bin/rms-agent simulate --server "$url" --pki var/pki --state-dir var/agent-sim --devices "$devices" \
	--interval "$interval" --log-level warn &
pids+=($!)
wait -n "${pids[@]}" || true
