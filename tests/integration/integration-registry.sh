#!/bin/bash
# Images from a real private registry: Debian's docker-registry (the distribution registry) on the sandbox's
# loopback, with TLS (a CA made here with openssl, trusted by the sandbox's dockerd through
# /etc/docker/certs.d/HOST:PORT/ca.crt) and htpasswd (bcrypt) auth. A locally built image is pushed with
# `docker login`; ballast then pulls it by tag and by digest with credentials from a config.json-format file;
# without credentials the pull is refused and says why; a tag moved in the registry is picked up with
# pull: always and not with pull: missing; the registry down during an update leaves the old version serving
# until it is back. Also: examples/secret-demo (a secret file and an environment file) applied for real, and
# no secret value in docker inspect, a world-readable file or a read-only Varlink answer.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/sandbox.sh"
. "$here/../lib/lib.sh"

for tool in docker-registry htpasswd openssl base64; do
	command -v "$tool" >/dev/null 2>&1 || bail "$tool is not installed (Debian: docker-registry, apache2-utils, openssl, coreutils; tools/deps.sh)"
done

SB_DIR=$(mktemp -d /var/tmp/ballast-it-registry.XXXXXX)
trap 'sandbox_stop "$SB_DIR" --purge >/dev/null 2>&1; rm -rf "$SB_DIR"' EXIT
sandbox_start "$SB_DIR" --docker || bail "cannot start the sandbox"
ballast_install || bail "cannot install ballast into the sandbox"
need curl
sb systemctl start ballastd.socket
root=/proc/$SANDBOX_PID/root
# (services are applied once ballastd knows Docker's cgroup driver, as in integration-supervisor.sh: the cgroup
# parent of a container is decided by it)
bctl status >/dev/null
wait_for 10 sh -c "nsenter -t $SANDBOX_PID -a -r -w journalctl --no-pager -u ballastd.service | grep -q 'cgroup driver'" ||
	bail "ballastd did not learn Docker's cgroup driver"
REG=registry.ballast.test:5443      # a name, not 127.0.0.1: Docker treats loopback addresses as insecure registries
REPO=$REG/team/app
SPECS=$SB_DIR/specs
mkdir -p "$SPECS"
journal() { sb journalctl --no-pager -o cat "$@"; }
answers() { sb curl -sf -m 1 -o /dev/null "http://127.0.0.1:$1/"; }
cimage() { sb /usr/bin/docker inspect -f '{{.Image}}' "ballast-$1" 2>/dev/null; }
cid() { sb /usr/bin/docker inspect -f '{{.Id}}' "ballast-$1" 2>/dev/null; }
# the docker CLI's login goes to a config of this test's own (the sandbox shares /root with the host)
dk() { sb env DOCKER_CONFIG="$SB_DIR/docker-cli" /usr/bin/docker "$@"; }

# --- the registry: CA, server certificate, htpasswd, config; a unit of the sandbox's systemd ---
step "registry setup"
R=$root/srv/registry
mkdir -p "$R/data" "$root/etc/docker/certs.d/$REG"
echo "127.0.0.1 registry.ballast.test" >> "$root/etc/hosts"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ballast test CA" -keyout "$R/ca.key" -out "$R/ca.crt" \
	>/dev/null 2>&1 || bail "openssl: cannot make the CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=registry.ballast.test" -keyout "$R/server.key" -out "$R/server.csr" \
	>/dev/null 2>&1 || bail "openssl: cannot make the server key"
printf 'subjectAltName=DNS:registry.ballast.test\n' > "$R/ext"
openssl x509 -req -in "$R/server.csr" -CA "$R/ca.crt" -CAkey "$R/ca.key" -CAcreateserial -days 2 -extfile "$R/ext" \
	-out "$R/server.crt" >/dev/null 2>&1 || bail "openssl: cannot sign the server certificate"
cp "$R/ca.crt" "$root/etc/docker/certs.d/$REG/ca.crt"
htpasswd -Bbc "$R/htpasswd" tester 's3cret-pw' >/dev/null 2>&1 || bail "htpasswd failed"
cat > "$R/config.yml" <<YAML
version: 0.1
log: {level: info}
storage: {filesystem: {rootdirectory: /srv/registry/data}, delete: {enabled: true}}
http: {addr: "127.0.0.1:5443", tls: {certificate: /srv/registry/server.crt, key: /srv/registry/server.key}}
auth: {htpasswd: {realm: ballast-test, path: /srv/registry/htpasswd}}
YAML
cat > "$root/etc/systemd/system/test-registry.service" <<UNIT
[Service]
ExecStart=/usr/bin/docker-registry serve /srv/registry/config.yml
UNIT
sb systemctl daemon-reload
sb systemctl start test-registry.service
reg_up() { sb curl -s -o /dev/null -w '%{http_code}' --cacert /srv/registry/ca.crt "https://$REG/v2/" | grep -q 401; }
wait_for 20 reg_up || { journal -u test-registry.service | tail -20; bail "the registry did not come up"; }
ok 0 "the registry answers over TLS and asks for credentials"

# --- push a locally built image (busybox with a marker file) ---
step "push"
dk rm -f mk >/dev/null 2>&1
# build_image TEXT: REPO:1 is the sandbox's busybox rootfs with /version holding TEXT (docker import: no
# container runs to build it)
build_image() {
	local d=$SB_DIR/img out
	rm -rf "$d" && mkdir -p "$d" && tar -C "$d" -xf "${SANDBOX_CACHE_DIR:-$SB_DIR/cache}/busybox-rootfs.tar" && echo "$1" > "$d/version" || return 1
	out=$(tar -C "$d" -cf - . | dk import -c 'CMD ["/bin/sh"]' - "$REPO:1" 2>&1) || { diag "$out"; return 1; }
}
build_image one || bail "cannot build the image"
# dockerd resolves the registry's name from the /etc/hosts line written above; its resolver (Go's) may answer
# from what it read of /etc/hosts up to 5 s before: wait until the name resolves (a refusal for credentials)
refused_for_credentials() { dk push "$REPO:1" 2>&1 | grep -qiE 'no basic auth credentials|unauthorized|authentication required'; }
wait_for 15 refused_for_credentials
ok $? "docker push without login is refused for its credentials" || diag "$(dk push "$REPO:1" 2>&1 | tail -2)"
out=$(echo 's3cret-pw' | dk login -u tester --password-stdin "$REG" 2>&1) || bail "docker login failed: $(tail -1 <<< "$out")"
dk push "$REPO:1" >/dev/null 2>&1 || bail "docker push failed"
DIGEST=$(dk inspect -f '{{index .RepoDigests 0}}' "$REPO:1"); DIGEST=${DIGEST#*@}
like "$DIGEST" '^sha256:[0-9a-f]{64}$' "the pushed image has a digest ($DIGEST)"
ID1=$(dk inspect -f '{{.Id}}' "$REPO:1")
dk logout "$REG" >/dev/null 2>&1
dk rmi "$REPO:1" >/dev/null 2>&1
check "the image is no longer in the sandbox's Docker" -- sh -c "! nsenter -t $SANDBOX_PID -a -r /usr/bin/docker image inspect $REPO:1 >/dev/null 2>&1"

# credentials for ballast: Docker's config.json format, root's and 0600
sb mkdir -p /etc/ballast/secrets
AUTH=$(printf 'tester:s3cret-pw' | base64)
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$REG" "$AUTH" > "$root/etc/ballast/registry.json"
chmod 0644 "$root/etc/ballast/registry.json"

spec() {  # spec NAME IMAGE PORT [EXTRA-JSON]
	cat > "$SPECS/$1.json" <<JSON
{"name": "$1", "image": "$2",
 "command": ["/bin/sh", "-c", "mkdir -p /www && cp /version /www/index.html && exec httpd -f -p 8080 -h /www"],
 "ports": [{"host": $3, "container": 8080}],
 "restart": {"policy": "always", "delay_ms": 200, "max_delay_ms": 2000}${4:+, $4}}
JSON
}

# --- refused: a credentials file anyone may read; then no credentials at all ---
step "refusals"
spec app "$REPO:1" 18090 '"registry_auth_file": "/etc/ballast/registry.json"'
bctl -t 30 apply "$SPECS/app.json" >/dev/null 2>&1
wait_for 15 sh -c "nsenter -t $SANDBOX_PID -a -r journalctl --no-pager -o cat -u ballast-app.service | grep -q 'must not be readable or writable by others'"
ok $? "a world-readable credentials file is refused, and the journal says why"
check "and nothing was pulled" -- sh -c "! nsenter -t $SANDBOX_PID -a -r /usr/bin/docker image inspect $REPO:1 >/dev/null 2>&1"
bctl rm app >/dev/null 2>&1
chmod 0600 "$root/etc/ballast/registry.json"

spec noauth "$REPO:1" 18091
bctl -t 30 apply "$SPECS/noauth.json" >/dev/null 2>&1
wait_for 15 sh -c "nsenter -t $SANDBOX_PID -a -r journalctl --no-pager -o cat -u ballast-noauth.service | grep -q 'Cannot pull $REPO:1'"
ok $? "without credentials the pull fails, said in the unit's journal"
# (dockerd 20.10 reports the error of the last endpoint it tried: after the refused HTTPS one, plain HTTP)
like "$(journal -u ballast-noauth.service | grep 'Cannot pull' | head -1)" "Cannot pull $REPO:1: HTTP [45][0-9][0-9]: .+" \
	"  with Docker's reason"
check "  and the service is not active" -- sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r systemctl show -P ActiveState ballast-noauth.service)\" != active ]"
bctl rm noauth >/dev/null 2>&1

# --- by tag, with credentials ---
step "pull by tag"
out=$(timeout "$(time_budget_s 60)" nsenter -t "$SANDBOX_PID" -a -r "$BALLAST_BIN/ballastctl" -t 60 apply --wait "$SPECS/app.json" 2>&1)
like "$out" "app: active" "pulled by tag with credentials, the service is active" ||
	{ diag "$out"; journal -u ballast-app.service | tail -20 | sed 's/^/# /'; }
check "it answers" -- answers 18090
is "$(cimage app)" "$ID1" "the container runs the pushed image"
like "$(journal -u ballast-app.service | grep -c 'layer .* pulled')" '^[1-9][0-9]*$' "the journal has a line per layer pulled"
check "the journal says the pull used credentials" -- sh -c "nsenter -t $SANDBOX_PID -a -r journalctl --no-pager -o cat -u ballast-app.service | grep -q 'Pulling $REPO:1 with credentials'"
n_lines=$(journal -u ballast-app.service | grep -c 'Image .*: layer')
n_layers=$(dk image inspect -f '{{len .RootFS.Layers}}' "$REPO:1")
is "$n_lines" "$n_layers" "one journal line per layer, not per progress event"
check "the credentials are in no read-only answer" -- sh -c "! printf '%s' \"\$(nsenter -t $SANDBOX_PID -a -r $BALLAST_BIN/ballastctl inspect app)\" | grep -q -e s3cret -e '$AUTH'"

# --- by digest ---
step "pull by digest"
dk rmi -f "$REPO@$DIGEST" >/dev/null 2>&1
spec pinned "$REPO@$DIGEST" 18092 '"registry_auth_file": "/etc/ballast/registry.json"'
out=$(timeout "$(time_budget_s 60)" nsenter -t "$SANDBOX_PID" -a -r "$BALLAST_BIN/ballastctl" -t 60 apply --wait "$SPECS/pinned.json" 2>&1)
like "$out" "pinned: active" "pulled by digest, the service is active"
is "$(cimage pinned)" "$ID1" "the pinned container runs the pushed image"
bctl rm pinned >/dev/null 2>&1

# --- a moved tag: pushed from here, then the local tag put back on the old image ---
step "moved tag"
build_image two || bail "cannot build the second image"
ID2=$(dk inspect -f '{{.Id}}' "$REPO:1")
echo 's3cret-pw' | dk login -u tester --password-stdin "$REG" >/dev/null 2>&1 && dk push "$REPO:1" >/dev/null 2>&1 ||
	bail "cannot push the moved tag"
dk logout "$REG" >/dev/null 2>&1
dk tag "$ID1" "$REPO:1"
is "$(dk inspect -f '{{.Id}}' "$REPO:1")" "$ID1" "locally, the tag still names the first image"
c0=$(cid app)
timeout "$(time_budget_s 60)" nsenter -t "$SANDBOX_PID" -a -r "$BALLAST_BIN/ballastctl" -t 60 restart app >/dev/null 2>&1
wait_for 20 answers 18090
is "$(cimage app)" "$ID1" "pull: missing: a restart keeps the image that is here (the moved tag is not picked up)"
is "$(sb curl -sf -m 1 http://127.0.0.1:18090/)" "one" "  and the old version answers"
spec app "$REPO:1" 18090 '"registry_auth_file": "/etc/ballast/registry.json", "pull": "always"'
out=$(timeout "$(time_budget_s 60)" nsenter -t "$SANDBOX_PID" -a -r "$BALLAST_BIN/ballastctl" -t 60 apply --wait "$SPECS/app.json" 2>&1)
like "$out" "app: active" "applied with pull: always"
wait_for 20 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r /usr/bin/docker inspect -f '{{.Image}}' ballast-app)\" = $ID2 ]"
ok $? "pull: always picks up the moved tag"
wait_for 10 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r curl -sf -m 1 http://127.0.0.1:18090/)\" = two ]"
ok $? "  and the new version answers"
check "ballastd pulled before replacing the running version" -- sh -c "nsenter -t $SANDBOX_PID -a -r journalctl --no-pager -o cat -u ballastd.service | grep -q 'Pulled $REPO:1 for app'"

# --- the registry down during an update: the old version serves on, the update completes when it is back ---
step "registry down"
sb systemctl stop test-registry.service
c1=$(cid app)
spec app "$REPO:1" 18090 '"registry_auth_file": "/etc/ballast/registry.json", "pull": "always", "env": {"V": "3"}'
bctl -t 30 apply "$SPECS/app.json" >/dev/null 2>&1
wait_for 30 sh -c "nsenter -t $SANDBOX_PID -a -r $BALLAST_BIN/ballastctl ps | grep -q 'pull of $REPO:1 failed'"
ok $? "ps says the pull failed"
like "$(bctl inspect app)" '"pull_status": "pull of .*failed: .*the running version keeps serving' "inspect says why and that the old version serves"
check "the journal says why" -- sh -c "nsenter -t $SANDBOX_PID -a -r journalctl --no-pager -o cat -u ballastd.service | grep -q 'Cannot update app: pull of'"
down=0
for i in $(seq 10); do answers 18090 || down=$((down + 1)); sleep 0.2; done
is "$down" 0 "the old version answered every probe while the registry was down"
is "$(cid app)" "$c1" "  the same container"
sb systemctl start test-registry.service
wait_for 20 reg_up || bail "the registry did not come back"
wait_for 60 sh -c "[ \"\$(nsenter -t $SANDBOX_PID -a -r /usr/bin/docker inspect -f '{{.Id}}' ballast-app)\" != $c1 ]"
ok $? "with the registry back, the retried pull completes the update"
wait_for 20 answers 18090
ok $? "  and the new container answers"
like "$(dk inspect -f '{{join .Config.Env " "}}' ballast-app)" "V=3" "  with the new spec"

# --- examples/secret-demo: a secret file and an environment file ---
step "secrets"
ex=$top_srcdir/examples/secret-demo
cp "$ex/secret-demo.env" "$root/etc/ballast/secret-demo.env"
printf 'pa55-w0rd-xyz' > "$root/etc/ballast/secrets/db-password"
chmod 0644 "$root/etc/ballast/secrets/db-password"
bctl -t 30 apply "$ex/secret-demo.json" >/dev/null 2>&1
wait_for 15 sh -c "nsenter -t $SANDBOX_PID -a -r journalctl --no-pager -o cat -u ballast-secret-demo.service | grep -q 'must not be readable or writable by others'"
ok $? "a world-readable secret is refused, said in the journal"
chmod 0600 "$root/etc/ballast/secrets/db-password"
bctl rm secret-demo >/dev/null 2>&1
out=$(timeout "$(time_budget_s 60)" nsenter -t "$SANDBOX_PID" -a -r "$BALLAST_BIN/ballastctl" -t 60 apply --wait "$ex/secret-demo.json" 2>&1)
like "$out" "secret-demo: active" "examples/secret-demo/secret-demo.json runs"
is "$(sb curl -sf -m 1 http://127.0.0.1:18082/)" "secret of 13 bytes, user app" "the container reads its secret file and its env file"
is "$(dk exec ballast-secret-demo sh -c 'echo x > /run/secrets/db_password' >/dev/null 2>&1; echo $?)" 1 "the secret is read-only in the container"
check "no secret value in docker inspect" -- sh -c "! nsenter -t $SANDBOX_PID -a -r /usr/bin/docker inspect ballast-secret-demo | grep -q pa55-w0rd"
check "no secret value in inspect or ps" -- sh -c "! { nsenter -t $SANDBOX_PID -a -r $BALLAST_BIN/ballastctl inspect secret-demo; nsenter -t $SANDBOX_PID -a -r $BALLAST_BIN/ballastctl ps; } | grep -q pa55-w0rd"
like "$(bctl inspect secret-demo)" '"source": "/etc/ballast/secrets/db-password"' "inspect shows the secret's path"
leaks=$(sb sh -c 'grep -rls pa55-w0rd /etc/systemd/system /run/systemd/system /var/lib/ballast /run/ballast 2>/dev/null | while read -r f; do [ "$(stat -c %a "$f" | cut -c3)" -ge 4 ] && echo "$f"; done')
is "$leaks" "" "no world-readable file under the unit, state and run directories holds the secret"

done_testing
