# shellcheck shell=bash
# Sourced by scripts/kafka-broker.sh: the secured services the least-privilege tests talk to.
#
#   secure-broker    Apache Kafka (KRaft, one node) with one client listener, SASL_SSL on
#                    127.0.0.1:$KAFKA_SECURE_PORT (SCRAM-SHA-512), the StandardAuthorizer with
#                    allow.everyone.if.no.acl.found=false and one super user (admin). The node's
#                    own controller listener (PORT+1) is TLS with client certificates: only the
#                    broker's certificate gets in (it is the other super user).
#   secure-registry  Apicurio Registry over HTTPS only (127.0.0.1:$REGISTRY_TLS_PORT), every request
#                    needing HTTP basic credentials.
#
# Certificates (a CA, the broker's and the registry's, each for IP 127.0.0.1 only) and passwords
# are made once per machine under $CACHE/secure (mode 700) and kept; they are made again when
# the CA is within 30 days of expiry. The broker's log directory is formatted afresh at each
# start (the tests make their own users, topics and ACLs; nothing there is worth keeping), with
# the SCRAM users admin (super user) and collector (no ACLs): kafka-storage format --add-scram.

SECURE_PORT=${KAFKA_SECURE_PORT:-9094}
SECURE_CONTROLLER_PORT=$((SECURE_PORT + 1))
SECURE_DATA=${KAFKA_SECURE_DATA_DIR:-$STATE/kafka-secure-$SECURE_PORT}
SECURE_PID="$SECURE_DATA/broker.pid"
SECURE_LOG="$SECURE_DATA/broker.log"
SECRETS="$CACHE/secure"
REGISTRY_TLS_PORT=${REGISTRY_TLS_PORT:-8444}
REGISTRY_TLS_DIR="$STATE/registry-tls-$REGISTRY_TLS_PORT"
REGISTRY_TLS_PID="$REGISTRY_TLS_DIR/registry.pid"
REGISTRY_TLS_LOG="$REGISTRY_TLS_DIR/registry.log"
SECURE_CLUSTER_ID=${KAFKA_SECURE_CLUSTER_ID:-jOcsfSecureCluster0001w}
BROKER_CN=jumpcloud-ocsf-test-broker

# One certificate signed by the CA: NAME, subject CN, extended key usage.
issue_certificate() {
  openssl req -newkey rsa:2048 -nodes -keyout "$SECRETS/$1.key" -out "$SECRETS/$1.csr" \
    -subj "/CN=$2" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' \
    "$3" >"$SECRETS/$1.ext"
  openssl x509 -req -in "$SECRETS/$1.csr" -CA "$SECRETS/ca.pem" -CAkey "$SECRETS/ca.key" \
    -CAcreateserial -days 825 -out "$SECRETS/$1.pem" -extfile "$SECRETS/$1.ext" 2>/dev/null
  rm -f "$SECRETS/$1.csr" "$SECRETS/$1.ext"
}

# The CA, the certificates, the broker's PKCS#12 keystore and the passwords, made once.
secure_material() {
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to make the test certificates"
  mkdir -p "$SECRETS"; chmod 700 "$SECRETS"
  exec 6>"$SECRETS/.lock"
  flock -w 120 6 || die "another process holds $SECRETS/.lock"
  if [ -f "$SECRETS/.complete" ] && openssl x509 -checkend $((30 * 86400)) -noout -in "$SECRETS/ca.pem" >/dev/null 2>&1; then
    exec 6>&-; return 0
  fi
  log "making the test CA, certificates and passwords in $SECRETS"
  rm -f "$SECRETS"/*.pem "$SECRETS"/*.key "$SECRETS"/*.p12 "$SECRETS"/*.password "$SECRETS/.complete"
  local name
  for name in admin collector registry keystore; do
    openssl rand -hex 16 >"$SECRETS/$name.password"
  done
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$SECRETS/ca.key" -out "$SECRETS/ca.pem" \
    -days 3650 -subj "/CN=jumpcloud-ocsf test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null \
    || die "openssl could not make the test CA"
  issue_certificate broker "$BROKER_CN" serverAuth,clientAuth
  issue_certificate registry jumpcloud-ocsf-test-registry serverAuth
  openssl pkcs12 -export -in "$SECRETS/broker.pem" -inkey "$SECRETS/broker.key" -certfile "$SECRETS/ca.pem" \
    -name broker -out "$SECRETS/broker.p12" -passout "file:$SECRETS/keystore.password" \
    || die "openssl could not make the broker's keystore"
  chmod 600 "$SECRETS"/*
  touch "$SECRETS/.complete"
  exec 6>&-
}

# Exit 0 when a Kafka broker answers ApiVersions over TLS with a certificate of the test CA.
probe_secure_broker() { probe_kafka "$SECURE_PORT" "$SECRETS/ca.pem"; }

# Exit 0 when the TLS registry answers with the test CA's certificate and accepts its user.
probe_secure_registry() {
  python3 - "https://$HOST:$REGISTRY_TLS_PORT/apis/ccompat/v7/subjects" "$SECRETS/ca.pem" \
    "$SECRETS/registry.password" <<'PY' 2>/dev/null
import base64, ssl, sys, urllib.request
try:
    password = open(sys.argv[3]).read().strip()
    request = urllib.request.Request(sys.argv[1])
    token = base64.b64encode(f"registry:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=sys.argv[2])
    with urllib.request.urlopen(request, timeout=3, context=context) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

write_secure_broker_config() {
  local admin keystore
  admin=$(cat "$SECRETS/admin.password"); keystore=$(cat "$SECRETS/keystore.password")
  mkdir -p "$SECURE_DATA/logs"; chmod 700 "$SECURE_DATA"
  write_broker_config_to "$SECURE_DATA" "$SECURE_PORT" "$SECURE_CONTROLLER_PORT"
  # The plaintext listeners of the common configuration, replaced.
  sed -i -e '/^listeners=/d' -e '/^advertised.listeners=/d' -e '/^inter.broker.listener.name=/d' \
    -e '/^listener.security.protocol.map=/d' -e '/^auto.create.topics.enable=/d' "$SECURE_DATA/server.properties"
  cat >>"$SECURE_DATA/server.properties" <<PROPS
listeners=SASL_SSL://$HOST:$SECURE_PORT,CONTROLLER://$HOST:$SECURE_CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$SECURE_PORT
listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECRETS/broker.p12
ssl.keystore.password=$keystore
ssl.key.password=$keystore
ssl.truststore.type=PEM
ssl.truststore.location=$SECRETS/ca.pem
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:CN=$BROKER_CN
auto.create.topics.enable=false
PROPS
  chmod 600 "$SECURE_DATA/server.properties"
}

start_secure_broker() {
  local pid
  secure_material
  if pid=$(live_pid "$SECURE_PID" kafka.Kafka) && probe_secure_broker; then
    log "secured broker already running (pid $pid) on $HOST:$SECURE_PORT"; return 1
  elif probe_secure_broker; then
    log "a secured broker this script did not start answers on $HOST:$SECURE_PORT; using it"; return 1
  fi
  port_open "$SECURE_PORT" && die "port $HOST:$SECURE_PORT is taken by something that is not the secured test broker"
  command -v java >/dev/null 2>&1 || die "java (17 or newer) is not on PATH"
  install_broker
  [ ! -e "$SECURE_DATA" ] || [ -f "$SECURE_DATA/server.properties" ] \
    || die "$SECURE_DATA is not a broker directory of this script: not formatting it"
  rm -rf "$SECURE_DATA"
  write_secure_broker_config
  local log4j=(-Dlog4j2.configurationFile="$SECURE_DATA/log4j2.properties" -Dkafka.logs.dir="$SECURE_DATA")
  java "${log4j[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
    -t "$SECURE_CLUSTER_ID" -c "$SECURE_DATA/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$SECRETS/admin.password")]" \
    --add-scram "SCRAM-SHA-512=[name=collector,password=$(cat "$SECRETS/collector.password")]" \
    >>"$SECURE_LOG" 2>&1 \
    || { tail -n 20 "$SECURE_LOG" >&2; die "formatting $SECURE_DATA/logs failed"; }
  log "starting the secured Apache Kafka $KAFKA_VERSION on $HOST:$SECURE_PORT (SASL_SSL, ACLs; data $SECURE_DATA)"
  launch_kafka "$SECURE_DATA" "$SECURE_LOG" "$SECURE_PID"
  wait_ready probe_secure_broker "$(cat "$SECURE_PID")" "$SECURE_LOG" "secured broker"
}

start_secure_registry() {
  local pid
  secure_material
  if pid=$(live_pid "$REGISTRY_TLS_PID" quarkus-run.jar) && probe_secure_registry; then
    log "TLS registry already running (pid $pid) on $HOST:$REGISTRY_TLS_PORT"; return 1
  elif probe_secure_registry; then
    log "a TLS registry this script did not start answers on $HOST:$REGISTRY_TLS_PORT; using it"; return 1
  fi
  port_open "$REGISTRY_TLS_PORT" && die "port $HOST:$REGISTRY_TLS_PORT is taken by something that is not the TLS registry"
  install_registry
  local java; java=$(registry_java)
  mkdir -p "$REGISTRY_TLS_DIR/config"; chmod 700 "$REGISTRY_TLS_DIR"
  # Quarkus reads ./config/application.properties: the password stays off the command line.
  # Apicurio's basic authentication: quarkus.http.auth.basic (read by Apicurio at run time,
  # although Quarkus warns that it is fixed at build time) with the embedded user realm.
  cat >"$REGISTRY_TLS_DIR/config/application.properties" <<PROPS
quarkus.http.host=$HOST
quarkus.http.port=$((REGISTRY_TLS_PORT + 2))
quarkus.http.ssl-port=$REGISTRY_TLS_PORT
quarkus.http.insecure-requests=disabled
quarkus.http.ssl.certificate.files=$SECRETS/registry.pem
quarkus.http.ssl.certificate.key-files=$SECRETS/registry.key
quarkus.management.host=$HOST
quarkus.management.port=$((REGISTRY_TLS_PORT + 1))
quarkus.http.auth.basic=true
apicurio.authn.mechanism.priority=basic
quarkus.security.users.embedded.plain-text=true
quarkus.security.users.embedded.users.registry=$(cat "$SECRETS/registry.password")
quarkus.security.users.embedded.roles.registry=sr-admin
quarkus.log.level=WARN
PROPS
  chmod 600 "$REGISTRY_TLS_DIR/config/application.properties"
  log "starting Apicurio Registry $APICURIO_VERSION over TLS on $HOST:$REGISTRY_TLS_PORT (basic auth; log $REGISTRY_TLS_LOG)"
  ( cd "$REGISTRY_TLS_DIR" && exec setsid "$java" -Xms64m -Xmx512m -XX:+ExitOnOutOfMemoryError \
      -jar "$APICURIO_HOME/quarkus-run.jar" >>"$REGISTRY_TLS_LOG" 2>&1 </dev/null 6>&- 7>&- 8>&- ) &
  pid=$!
  echo "$pid" >"$REGISTRY_TLS_PID"
  wait_ready probe_secure_registry "$pid" "$REGISTRY_TLS_LOG" "TLS registry"
}

# The exports of `start secure`: where the services are, the CA, the users' password files.
secure_exports() {
  if want secure-broker; then
    echo "export KAFKA_SECURE_BOOTSTRAP_SERVERS=$HOST:$SECURE_PORT"
    echo "export KAFKA_SECURE_CA_LOCATION=$SECRETS/ca.pem"
    echo "export KAFKA_SECURE_ADMIN_USER=admin"
    echo "export KAFKA_SECURE_ADMIN_PASSWORD_FILE=$SECRETS/admin.password"
    echo "export KAFKA_SECURE_USER=collector"
    echo "export KAFKA_SECURE_PASSWORD_FILE=$SECRETS/collector.password"
  fi
  if want secure-registry; then
    echo "export SCHEMA_REGISTRY_TLS_URL=https://$HOST:$REGISTRY_TLS_PORT/apis/ccompat/v7"
    echo "export SCHEMA_REGISTRY_TLS_USER=registry"
    echo "export SCHEMA_REGISTRY_TLS_PASSWORD_FILE=$SECRETS/registry.password"
  fi
}
