#!/usr/bin/env bash
# Installs spacekeeper on a cluster without cert-manager: applies
# manifests/base, makes a CA and serving certificate with `spacekeeper certs`,
# stores the pair as the spacekeeper-tls Secret and puts the CA into every
# webhook's caBundle. Run it again to rotate (it keeps the CA in $CERT_DIR
# when one is there, so the caBundle stays valid during the switch).
#
#   scripts/install-certs.sh [--no-apply]
#   env: SPACEKEEPER (binary, default build/spacekeeper), KUBECTL (default kubectl),
#        CERT_DIR (default certs/cluster), NAMESPACE (default spacekeeper-system)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
sk=${SPACEKEEPER:-$top/build/spacekeeper}
kubectl=${KUBECTL:-kubectl}
dir=${CERT_DIR:-$top/certs/cluster}
ns=${NAMESPACE:-spacekeeper-system}
svc=spacekeeper

if [ "${1:-}" != "--no-apply" ]; then
  "$kubectl" apply -k "$top/manifests/base/crds"
  "$kubectl" wait --for condition=established --timeout=60s \
    crd/workspaces.workspace.jupyter.org crd/workspacetemplates.workspace.jupyter.org
  "$kubectl" apply -k "$top/manifests/base"
fi

reuse=()
[ -s "$dir/ca.crt" ] && [ -s "$dir/ca.key" ] && reuse=(--reuse-ca)
"$sk" certs --out "$dir" --days 365 "${reuse[@]}" \
  --dns "$svc.$ns.svc" --dns "$svc.$ns.svc.cluster.local" --dns "$svc.$ns" --dns "$svc"

"$kubectl" -n "$ns" create secret tls spacekeeper-tls \
  --cert "$dir/tls.crt" --key "$dir/tls.key" --dry-run=client -o yaml | "$kubectl" apply -f -

bundle=$(base64 -w0 < "$dir/ca.crt")
patch_config() { # kind, number of webhooks
  local ops="" i
  for ((i = 0; i < $2; i++)); do
    ops+="${ops:+,}{\"op\":\"add\",\"path\":\"/webhooks/$i/clientConfig/caBundle\",\"value\":\"$bundle\"}"
  done
  "$kubectl" patch "$1" "$svc" --type=json -p "[$ops]"
}
patch_config mutatingwebhookconfiguration 1
patch_config validatingwebhookconfiguration 2
echo "spacekeeper-tls and the caBundles are in place (CA: $dir/ca.crt)"
