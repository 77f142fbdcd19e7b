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
