#!/usr/bin/env bash
# Two LLM Lab replicas behind nginx with sticky sessions (deploy/nginx.conf), in the foreground; Ctrl-C stops all.
#   scripts/replicas.sh                      # replicas on 127.0.0.1:8501 and :8502, the class opens http://127.0.0.1:8080
#   PORT_A=9501 PORT_B=9502 PUBLIC=9080 LISTEN=0.0.0.0 scripts/replicas.sh
# nginx runs as the current user with its pid, logs and temp files under $PREFIX (default: a new temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT_A=${PORT_A:-8501}
PORT_B=${PORT_B:-8502}
PUBLIC=${PUBLIC:-8080}
LISTEN=${LISTEN:-127.0.0.1}
PREFIX=${PREFIX:-$(mktemp -d -t llm-lab-nginx-XXXXXX)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || { echo "nginx not found: apt-get install nginx" >&2; exit 1; }

mkdir -p "$PREFIX/logs" "$PREFIX/tmp"
# The same file with this run's ports: deploy/nginx.conf names 8501, 8502 and 8080.
sed -e "s/127\.0\.0\.1:8501/127.0.0.1:$PORT_A/g" -e "s/127\.0\.0\.1:8502/127.0.0.1:$PORT_B/g" \
    -e "s/listen 127\.0\.0\.1:8080;/listen $LISTEN:$PUBLIC;/" deploy/nginx.conf > "$PREFIX/nginx.conf"

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

for port in "$PORT_A" "$PORT_B"; do
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python -m streamlit run Home.py --server.port "$port" \
    --server.address 127.0.0.1 --server.headless true > "$PREFIX/logs/streamlit-$port.log" 2>&1 &
  pids+=($!)
done
for port in "$PORT_A" "$PORT_B"; do
  for _ in $(seq 180); do
    python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/_stcore/health', timeout=2)" \
      2>/dev/null && break
    sleep 1
  done
done
"$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -g "daemon off;" &
pids+=($!)
echo "LLM Lab: http://$LISTEN:$PUBLIC (replicas on 127.0.0.1:$PORT_A and :$PORT_B; logs in $PREFIX/logs)"
wait -n
