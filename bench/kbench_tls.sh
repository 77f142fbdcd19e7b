# Sourced by the TLS bench scripts (needs `root` and `shared` set by the caller):
# sets `kb` to kbench built with librdkafka's OpenSSL (`--features rdkafka/ssl`; the shared
# build has no TLS): KBENCH_SSL if set, else built once into KBENCH_SSL_TARGET_DIR (default
# ../kbench-ssl-target). `bench_certs DIR` makes a throwaway CA (ca.pem) and a P-256 server
# key and certificate for localhost / 127.0.0.1 signed by it, key first in DIR/server.pem.
kb=${KBENCH_SSL:-}
if [ -z "$kb" ]; then
  kbench_ssl_target=${KBENCH_SSL_TARGET_DIR:-$root/../kbench-ssl-target}
  kb=$kbench_ssl_target/release/kbench
  if [ ! -x "$kb" ]; then
    echo "bench: building kbench with TLS into $kbench_ssl_target" >&2
    (cd "$shared/bench/kbench" && CARGO_TARGET_DIR=$kbench_ssl_target cargo build --release --quiet --locked --features rdkafka/ssl) >&2 \
      || { echo "bench: cannot build kbench with TLS (needs libssl-dev)" >&2; exit 2; }
  fi
fi
bench_certs() {
  (cd "$1" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=localhost &&
    echo "subjectAltName=DNS:localhost,IP:127.0.0.1" > ext.cnf &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf &&
    cat server.key server.crt > server.pem) >/dev/null 2>&1 || { echo "bench: openssl failed" >&2; exit 2; }
}
# `start_tls_broker BIN DIR` starts BIN with a PLAINTEXT and an SSL listener (the key and
# certificate bench_certs made in DIR, data in DIR/data, log in DIR/broker.log) and waits
# for both; sets `pid`, `plain` and `tls` (the two ports).
start_tls_broker() {
  local http
  plain=$(bench_port); tls=$(bench_port); http=$(bench_port)
  rm -rf "$2/data"
  "$1" server --data-dir "$2/data" --listen 127.0.0.1:$plain --http 127.0.0.1:$http --registry off \
    --set "listeners=PLAINTEXT://127.0.0.1:$plain,TLS://127.0.0.1:$tls" \
    --set "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,TLS:SSL" \
    --set ssl.keystore.type=PEM --set "ssl.keystore.location=$2/server.pem" 2>"$2/broker.log" &
  pid=$!
  for port in $plain $tls; do
    for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  done
  sleep 1
}
bench_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
