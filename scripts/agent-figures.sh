#!/usr/bin/env bash
# Measures the agent's footprint against a local server: idle RSS, CPU per
# hour, bytes on the wire per heartbeat and per day. One device, an exec
# adapter printing 8 metrics, the default 60 s interval, the 25 s long-poll.
#
#   scripts/agent-figures.sh [SECONDS]   (default 900: 15 heartbeats after a 60 s warm-up)
#   AGENT=bin/rms-agent-nopac scripts/agent-figures.sh   the build without PAC (make agent-small)
#
# CPU and bytes are taken between two samples after the warm-up, so start-up
# (TLS handshakes, first full heartbeat) is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-900}
make -s build agent-small >/dev/null
agent_bin=${AGENT:-bin/rms-agent}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RMS_ADMIN_PASSWORD=figures-password-1 bin/rms-server --listen 127.0.0.1:$port --pki fixtures/pki \
	--db sqlite:$tmp/rms.db --data-dir $tmp/data --log-level warn >/dev/null 2>&1 &
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

cat >"$tmp/status.sh" <<'SH'
#!/bin/sh
echo state=ok
echo metric.cpu=12.5 %
echo metric.mem=41.2 %
echo metric.disk=63 %
echo metric.temp=38.4 C
echo metric.uptime=86400 s
echo metric.scans=1234
echo metric.errors=0
echo metric.queue=3
echo property.fw=4.2.1
SH
chmod +x "$tmp/status.sh"
cat >"$tmp/agent.yaml" <<YAML
server: https://localhost:$port
ca: fixtures/pki/ca.crt
server_cert: fixtures/pki/server.crt
state_dir: $tmp/state
log_level: warn
devices:
  - cert: fixtures/pki/devices/dev-0001.crt
    key: fixtures/pki/devices/dev-0001.key
    adapter: exec
    options:
      exec:
        command: [$tmp/status.sh]
YAML
"$agent_bin" --config "$tmp/agent.yaml" >/dev/null 2>&1 &
agent=$!
sleep 60

ticks() { awk '{print $14+$15}' /proc/$agent/stat; }
wire() { # bytes sent and received on the agent's TCP connections
	ss -tinpH 2>/dev/null | awk -v pid="pid=$agent," '
		/users:/ { mine = index($0, pid) > 0; next }
		mine { for (i = 1; i <= NF; i++) { if ($i ~ /^bytes_sent:/) { split($i, a, ":"); s += a[2] } if ($i ~ /^bytes_received:/) { split($i, b, ":"); r += b[2] } } }
		END { print s + 0, r + 0 }'
}
t0=$(ticks); read -r s0 r0 < <(wire)
sleep "$window"
t1=$(ticks); read -r s1 r1 < <(wire)
rss=$(awk '/VmRSS/ {print $2}' /proc/$agent/status)
hz=$(getconf CLK_TCK)
beats=$((window / 60))
awk -v bin="$agent_bin" -v t="$((t1 - t0))" -v hz="$hz" -v w="$window" -v rss="$rss" -v s="$((s1 - s0))" -v r="$((r1 - r0))" -v n="$beats" 'BEGIN {
	printf "agent             %s\n", bin
	printf "window            %d s (%d heartbeats, %d long-polls)\n", w, n, w / 25
	printf "RSS               %.1f MB\n", rss / 1024
	printf "CPU               %.2f s per hour (%.3f%% of one core)\n", t / hz * 3600 / w, t / hz / w * 100
	printf "wire, sent        %d B (%.0f B per heartbeat interval)\n", s, s / n
	printf "wire, received    %d B (%.0f B per heartbeat interval)\n", r, r / n
	printf "wire, per day     %.2f MB both ways (heartbeats and long-polls)\n", (s + r) / w * 86400 / 1e6
}'
