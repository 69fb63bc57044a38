#!/usr/bin/env bash
# make run: the webhook on loopback with development certificates and the
# bundled system templates. Ctrl-C stops it.
set -euo pipefail
bin=${1:-build/spacekeeper}
top=$(cd "$(dirname "$0")/.." && pwd)
certs="$top/certs"
port=${SPACEKEEPER_PORT:-8443}
health=${SPACEKEEPER_HEALTH_PORT:-8081}

if [ ! -s "$certs/tls.crt" ] || [ ! -s "$certs/tls.key" ]; then
  "$bin" certs --out "$certs" --dns localhost --dns spacekeeper.spacekeeper-system.svc \
    --ip 127.0.0.1 --ip ::1 --days 30
fi

cat <<EOF

spacekeeper is starting on https://127.0.0.1:$port (health and metrics on http://127.0.0.1:$health).
Try it from another terminal:

  curl --cacert certs/ca.crt -H 'Content-Type: application/json' \\
       --data @test/fixtures/review-denied.json https://127.0.0.1:$port/validate

  curl http://127.0.0.1:$health/metrics

EOF
exec "$bin" serve --tls-cert "$certs/tls.crt" --tls-key "$certs/tls.key" \
  --listen "127.0.0.1:$port" --health-listen "127.0.0.1:$health" \
  --templates "$top/manifests/templates"
