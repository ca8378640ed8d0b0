#!/bin/bash
# ballast-ignition against the real Ignition 2.14: every config it writes passes ignition-validate; the real
# ignition binary (file platform, fetch-offline/fetch/files, a fresh root) applies the inline config, and the URL
# config from an https server on loopback; broken inputs give a clear error and no file; the Butane source says
# the same as the Ignition config; the update files are what ballastd itself writes.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lib.sh"
. "$here/../lib/ignition.sh"

G=$top_builddir/ignition/ballast-ignition
BIN=$top_builddir/dist-bin
EX=$top_srcdir/ignition/example/ballast.json
for c in ignition-validate jq openssl python3 "$IGNITION_BIN" "$G" "$BIN/ballastd"; do
	command -v "$c" >/dev/null || bail "$c is missing (tools/deps.sh, make install-flavour)"
done
T=$(mktemp -d /var/tmp/ballast-test-ignition.XXXXXX)
srv_pid=
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$T"' EXIT

# inputs: the example's ballast.json (with an "updates" block), one without, and two services
printf '{"node": {"name": "n1", "labels": {"role": "db"}}}\n' > "$T/plain.json"
mkdir -p "$T/svc"
cp "$top_srcdir/examples/hello.json" "$T/svc/"
printf '{"name": "ticker", "runtime": "exec", "command": ["/bin/sh", "-c", "while sleep 5; do echo tick; done"],\n "resources": {"memory": "16M"}}\n' > "$T/svc/ticker.json"
echo "not a spec: ignored like ballastd ignores it" > "$T/svc/README"

gen() { "$G" "$@" 2>"$T/err"; }
valid() { ignition-validate "$1" >"$T/val" 2>&1; }
# the decoded contents of the file at PATH in an Ignition config (data: URLs, gzip or not)
contents() {
	python3 - "$1" "$2" <<-'PY'
	import base64, gzip, json, sys
	cfg = json.load(open(sys.argv[1]))
	for f in cfg["storage"]["files"]:
	    if f["path"] == sys.argv[2]:
	        data = base64.b64decode(f["contents"]["source"].split(",", 1)[1])
	        if f["contents"].get("compression") == "gzip":
	            data = gzip.decompress(data)
	        sys.stdout.buffer.write(data)
	        sys.exit(0)
	sys.exit(1)
	PY
}
paths() { jq -r '.storage.files[].path' "$1" | tr '\n' ' '; }

# --- every variant validates ---
gen --config "$EX" --services "$T/svc" --binaries "$BIN" -o "$T/inline.ign"
# -o naming a pipe or a device is written through, never replaced (a fifo and a device node made here: the
# host's /dev is never touched)
mkfifo "$T/out.fifo" && mknod "$T/out.null" c 1 3 || bail "mkfifo/mknod in $T"
cat "$T/out.fifo" > "$T/from-fifo" & reader=$!
gen --config "$EX" --services "$T/svc" --binaries "$BIN" -o "$T/out.fifo"; rc=$?
wait $reader
is "$rc" 0 "-o a fifo: written"
ok "$([ -p "$T/out.fifo" ] && cmp -s "$T/from-fifo" "$T/inline.ign" && echo 0 || echo 1)" "  through the pipe (it is still a fifo, the reader got the config)"
gen --config "$EX" --services "$T/svc" --binaries "$BIN" -o "$T/out.null"; rc=$?
is "$rc" 0 "-o a device node: written"
ok "$([ -c "$T/out.null" ] && echo 0 || echo 1)" "  through it (it is still a character device)"
ln -s out.null "$T/out.link"
gen --config "$EX" --services "$T/svc" --binaries "$BIN" -o "$T/out.link"; rc=$?
ok "$([ "$rc" = 0 ] && [ -L "$T/out.link" ] && [ -c "$T/out.null" ] && echo 0 || echo 1)" "-o a symlink to a device node: written through, both stay"
is "$?" 0 "inline, with updates: generated"
valid "$T/inline.ign"; ok $? "inline, with updates: ignition-validate accepts it $(cat "$T/val")"
is "$(jq -r .ignition.version "$T/inline.ign")" 3.3.0 "spec 3.3.0 by default"
is "$(paths "$T/inline.ign")" "/etc/ballast/ballast.json /opt/bin/ballastd /opt/bin/ballastctl /opt/bin/ballast-run /opt/bin/ballast-pause /etc/ballast/services.d/hello.json /etc/ballast/services.d/ticker.json /etc/flatcar/update.conf /etc/zincati/config.d/90-ballast.toml " \
	"it writes ballast.json, the binaries, the specs and both update files"
is "$(jq -r '.storage.files[] | select(.path | startswith("/opt/bin/")) | "\(.mode) \(.contents.compression)"' "$T/inline.ign" | sort -u)" "493 gzip" \
	"the binaries are 0755, inlined gzip-compressed"
is "$(jq -c '[.systemd.units[] | {name, enabled}]' "$T/inline.ign")" \
	'[{"name":"ballastd.service","enabled":true},{"name":"ballastd.socket","enabled":true},{"name":"ballast.slice","enabled":null},{"name":"docker.service","enabled":true}]' \
	"units: ballastd.service and .socket enabled, ballast.slice, docker.service enabled"
is "$(jq -c .passwd.groups "$T/inline.ign")" '[{"name":"ballast","system":true}]' "the ballast group, a system group"
like "$(jq -r '.systemd.units[0].contents' "$T/inline.ign")" $'ExecStart=/opt/bin/ballastd\n.*Environment=BALLAST_RUN_HELPER=/opt/bin/ballast-run' \
	"ballastd.service runs /opt/bin/ballastd and finds ballast-run in /opt/bin"
is "$(contents "$T/inline.ign" /etc/ballast/ballast.json | md5sum)" "$(md5sum < "$EX")" "ballast.json is the operator's file, byte for byte"
is "$(contents "$T/inline.ign" /opt/bin/ballastd | sha512sum)" "$(sha512sum < "$BIN/ballastd")" "the inlined ballastd decodes to the built one"

gen --config "$T/plain.json" --services "$T/svc" --binaries "$BIN" -o "$T/plain.ign"
valid "$T/plain.ign"; ok $? "inline, without updates: valid $(cat "$T/val")"
is "$(paths "$T/plain.ign" | grep -c -e update.conf -e zincati)" 0 "without an \"updates\" block no update file is written"

gen --config "$EX" --services "$T/svc" --binaries "$BIN" --binaries-url https://dl.example.com/ballast/0.1.0 -o "$T/url.ign"
valid "$T/url.ign"; ok $? "by URL, with updates: valid $(cat "$T/val")"
is "$(jq -r '.storage.files[] | select(.path == "/opt/bin/ballastd") | "\(.contents.source) \(.contents.verification.hash)"' "$T/url.ign")" \
	"https://dl.example.com/ballast/0.1.0/ballastd sha512-$(sha512sum < "$BIN/ballastd" | cut -d' ' -f1)" \
	"by URL: the source and the sha512 of the local file"
gen --config "$T/plain.json" --binaries "$BIN" --binaries-url https://dl.example.com/b/ -o "$T/url-plain.ign"
valid "$T/url-plain.ign"; ok $? "by URL, without updates or services: valid $(cat "$T/val")"
like "$(jq -r '.storage.files[1].contents.source' "$T/url-plain.ign")" '^https://dl.example.com/b/ballastd$' "a base URL's trailing slash is not doubled"

gen --config "$EX" --services "$T/svc" --binaries "$BIN" --os flatcar -o "$T/flatcar.ign" && valid "$T/flatcar.ign"
ok $? "--os flatcar: valid"
like "$(paths "$T/flatcar.ign")" "update.conf $" "--os flatcar writes update.conf only"
gen --config "$EX" --services "$T/svc" --binaries "$BIN" --os fcos -o "$T/fcos.ign" && valid "$T/fcos.ign"
ok $? "--os fcos: valid"
like "$(paths "$T/fcos.ign")" "services.d/ticker.json /etc/zincati/config.d/90-ballast.toml $" "--os fcos writes the Zincati drop-in only"
# binaries where each OS's PATH finds them: /usr/local/bin on Fedora CoreOS, /opt/bin on Flatcar (read-only /usr)
like "$(paths "$T/fcos.ign")" "/usr/local/bin/ballastd /usr/local/bin/ballastctl /usr/local/bin/ballast-run /usr/local/bin/ballast-pause " \
	"--os fcos: the binaries in /usr/local/bin (on Fedora CoreOS's PATH)"
like "$(jq -r '.systemd.units[0].contents' "$T/fcos.ign")" $'ExecStart=/usr/local/bin/ballastd\n.*Environment=BALLAST_RUN_HELPER=/usr/local/bin/ballast-run' \
	"--os fcos: ballastd.service points at /usr/local/bin"
like "$(paths "$T/flatcar.ign")" "/opt/bin/ballastd /opt/bin/ballastctl /opt/bin/ballast-run /opt/bin/ballast-pause " \
	"--os flatcar: the binaries in /opt/bin (on Flatcar's PATH; its /usr is read-only)"
check "--os fcos: nothing in /opt/bin" -- sh -c "! jq -r '.storage.files[].path' '$T/fcos.ign' | grep -q '^/opt/bin/'"
# SELinux (Fedora CoreOS): Ignition labels what it writes from the policy's file_contexts (units
# systemd_unit_file_t, /usr/local/bin bin_t, /etc etc_t). Nothing in the config may get in its way: no SELinux
# configuration, no relabel request of its own, no kernel arguments, no files outside the labelled trees.
is "$(jq -r '[.storage.files[].path, (.storage.links // [])[].path, (.storage.directories // [])[].path] | .[]' "$T/fcos.ign" |
	grep -E '^/etc/selinux|^/\.autorelabel|^/var/lib/selinux|^/usr/share/selinux' | wc -l)" 0 \
	"--os fcos: the config writes nothing of SELinux's (configuration, policy, /.autorelabel)"
is "$(jq -r '.kernelArguments // {} | length' "$T/fcos.ign")" 0 "--os fcos: no kernel arguments (selinux=0, enforcing=0 …)"
is "$(jq -r '.storage.files[].path' "$T/fcos.ign" | grep -vE '^/usr/local/bin/|^/etc/' | wc -l)" 0 \
	"--os fcos: every file in /usr/local/bin or /etc, whose default contexts are what systemd and Docker need"

# 3.4.0 (Ignition 2.15+) changes nothing this config uses (its additions are LUKS and Tang options and S3
# access points); Debian's ignition 2.14 knows it only as 3.4.0-experimental, so that is what is validated.
gen --config "$EX" --services "$T/svc" --binaries "$BIN" --spec 3.4.0 -o "$T/v34.ign"
is "$(jq -r .ignition.version "$T/v34.ign")" 3.4.0 "--spec 3.4.0 writes version 3.4.0"
like "$(ignition-validate "$T/v34.ign" 2>&1)" "unsupported config version" "ignition 2.14 does not know 3.4.0 (it predates it)"
sed 's/"version": "3.4.0"/"version": "3.4.0-experimental"/' "$T/v34.ign" > "$T/v34x.ign"
valid "$T/v34x.ign"; ok $? "as 3.4.0-experimental, ignition 2.14 accepts the same config $(cat "$T/val")"
is "$(diff <(jq 'del(.ignition.version)' "$T/v34.ign") <(jq 'del(.ignition.version)' "$T/inline.ign") | head -c 300)" "" \
	"and it is the 3.3.0 config but for the version"

# --- broken inputs: a clear error, exit non-zero, and no file ---
fails() {  # fails DESCRIPTION REGEX ARGS...   the generator must fail, say REGEX, and leave no output
	local d=$1 re=$2; shift 2
	rm -f "$T/out.ign"
	"$G" "$@" -o "$T/out.ign" >"$T/stdout" 2>"$T/err"
	local st=$?
	ok $(( st != 0 ? 0 : 1 )) "$d: exit status $st"
	like "$(cat "$T/err")" "$re" "$d: the error says what and where"
	is "$(ls -A "$T" | grep -c -e '^out\.ign' -e '^\.out\.ign')" 0 "$d: no output file, not even a temporary one"
	is "$(wc -c < "$T/stdout")" 0 "$d: nothing on standard output"
}
printf '{"node": {"name": "n1"},\n "reserved": {"memory": "12XB"}}\n' > "$T/bad-size.json"
fails "a bad ballast.json" 'bad-size.json:2:[0-9]+: reserved.memory: .*12XB' --config "$T/bad-size.json" --binaries "$BIN"
printf '{"node": {"name": "n1"}, }\n' > "$T/bad-json.json"
fails "ballast.json that is not JSON" 'bad-json.json:1:[0-9]+' --config "$T/bad-json.json" --binaries "$BIN"
printf '{"node": {"name": "n1"}, "bogus": 1}\n' > "$T/unknown.json"
fails "an unknown key in ballast.json" 'unknown.json:1:[0-9]+: bogus: unknown key' --config "$T/unknown.json" --binaries "$BIN"
fails "a missing ballast.json" 'nope.json: cannot read: No such file' --config "$T/nope.json" --binaries "$BIN"
mkdir -p "$T/nobin"; cp "$BIN/ballastd" "$BIN/ballastctl" "$T/nobin/"   # no ballast-run, no ballast-pause
fails "a missing binary" 'nobin/ballast-run: cannot read: No such file or directory' --binaries "$T/nobin"
mkdir -p "$T/hostile"
printf '{"name": "../evil", "image": "local/busybox:latest"}\n' > "$T/hostile/evil.json"
fails "a service with a hostile name" 'hostile/evil.json:1:[0-9]+: name: ' --services "$T/hostile" --binaries "$BIN"
rm "$T/hostile/evil.json"
printf '{"name": "web", "image": "local/busybox:latest"}\n' > "$T/hostile/other.json"
fails "a spec whose name is not its file's" 'other.json: name "web" does not match the file name' --services "$T/hostile" --binaries "$BIN"
rm "$T/hostile/other.json"
printf '{"name": "h3", "runtime": "exec", "command": ["/bin/true"], "env": {"A\\nExecStartPost": "x"}}\n' > "$T/hostile/h3.json"
fails "a spec that would inject a unit line" 'h3.json:1:[0-9]+: env' --services "$T/hostile" --binaries "$BIN"
fails "an unknown option" "unrecognized option '--bogus'" --bogus --binaries "$BIN"
fails "a binaries URL that is not https" 'not an https:// URL' --binaries "$BIN" --binaries-url http://example.com/
fails "an unknown spec version" '--spec 3.9.0: not a spec' --binaries "$BIN" --spec 3.9.0
fails "a services directory that is not there" 'nodir: cannot read the services directory' --binaries "$BIN" --services "$T/nodir"
# a failure leaves an existing output as it was
echo previous > "$T/keep.ign"
"$G" --config "$T/bad-size.json" --binaries "$BIN" -o "$T/keep.ign" 2>/dev/null
is "$(cat "$T/keep.ign")" previous "a failed run leaves the previous output file untouched"
like "$("$G" --help)" "--binaries-url URL" "--help lists the options"
for o in $("$G" --help | grep -oE -- '--[a-z-]+' | sort -u); do
	[ "$o" = --help ] && continue
	"$G" "$o" 2>&1 | grep -q "unrecognized option" && { ok 1 "--help lists $o, which is not an option"; }
done
ok 0 "every option --help lists is an option"

# --- the real ignition, the Fedora CoreOS config: every file it writes goes to setfiles to be labelled ---
RF=$T/root-fcos
ign_root "$RF" || bail "cannot prepare the root"
ign_apply "$T/fcos.ign" "$RF"
ok $? "ignition applies the --os fcos config" || tail -5 "$RF.log" | sed 's/^/#   /'
check "/usr/local/bin/ballastd is written, 0755" -- test -x "$RF/usr/local/bin/ballastd"
relabel=$(tr '\0' '\n' < "$RF.relabel" 2>/dev/null | sed "s|^$RF||")
missing=
for f in $(jq -r '.storage.files[].path, (.systemd.units[] | select(.contents) | "/etc/systemd/system/" + .name)' "$T/fcos.ign"); do
	# setfiles gets a path, or a directory above it (with a recursive pattern)
	hit=
	d=$f
	while [ -n "$d" ]; do
		printf '%s\n' "$relabel" | grep -qxF -e "$d" -e "$d(/.*)?" && { hit=1; break; }
		d=${d%/*}
	done
	[ -n "$hit" ] || missing="$missing $f"
done
is "$missing" "" "every file and unit Ignition writes is handed to setfiles for labelling (so it gets its policy context)"
[ -n "$missing" ] && printf '%s\n' "$relabel" | sed 's/^/#   relabel: /'

# --- the real ignition applies the inline config to a fresh root ---
R=$T/root
ign_root "$R" || bail "cannot prepare the root"
ign_apply "$T/inline.ign" "$R"
ok $? "ignition (fetch-offline, files) applies the inline config" || tail -5 "$R.log" | sed 's/^/#   /'
st() { stat -c '%a %U:%G' "$R$1" 2>&1; }
for b in ballastd ballastctl ballast-run ballast-pause; do
	is "$(st /opt/bin/$b)" "755 root:root" "/opt/bin/$b is 0755 root:root"
	is "$(sha512sum < "$R/opt/bin/$b")" "$(sha512sum < "$BIN/$b")" "/opt/bin/$b has the sha512 of the built one"
done
is "$(st /etc/ballast/ballast.json)" "644 root:root" "ballast.json is 0644 root:root"
check "ballast.json is the operator's" -- cmp "$EX" "$R/etc/ballast/ballast.json"
is "$(st /etc/ballast/services.d)" "755 root:root" "the services directory is 0755"
check "hello.json is in services.d, as given" -- cmp "$T/svc/hello.json" "$R/etc/ballast/services.d/hello.json"
check "ticker.json too" -- cmp "$T/svc/ticker.json" "$R/etc/ballast/services.d/ticker.json"
check "nothing else is in services.d" -- test "$(ls "$R/etc/ballast/services.d" | tr '\n' ' ')" = "hello.json ticker.json "
for u in ballastd.service ballastd.socket ballast.slice; do
	is "$(st /etc/systemd/system/$u)" "644 root:root" "$u is installed, 0644"
done
check "ballastd.socket is the repository's" -- cmp "$top_srcdir/units/ballastd.socket" "$R/etc/systemd/system/ballastd.socket"
check "ballastd.service is the repository's with /opt/bin" -- \
	cmp <(sed -e 's|@sbindir@|/opt/bin|' -e 's|@libexecdir@|/opt/bin|' "$top_srcdir/units/ballastd.service.in") "$R/etc/systemd/system/ballastd.service"
is "$(cat "$R/etc/systemd/system-preset/20-ignition.preset" | sort | tr '\n' ' ')" \
	"enable ballastd.service enable ballastd.socket enable docker.service " "the preset enables ballastd.service, ballastd.socket and docker.service"
like "$(grep '^ballast:' "$R/etc/group")" '^ballast:[^:]*:[0-9]+:$' "the ballast group is in the root's /etc/group"
gid=$(grep '^ballast:' "$R/etc/group" | cut -d: -f3)
ok $(( gid < 1000 ? 0 : 1 )) "it is a system group (gid $gid)"
is "$(grep -c . "$R/etc/group")" "$(( $(grep -c . /etc/group) + 1 ))" "and the image's groups are all still there"
is "$(st /etc/flatcar/update.conf)" "644 root:root" "update.conf is 0644"
like "$(cat "$R/etc/flatcar/update.conf")" $'GROUP=stable\nREBOOT_STRATEGY=off' "update.conf pins GROUP and turns locksmith's reboots off"
like "$(cat "$R/etc/zincati/config.d/90-ballast.toml")" 'strategy = "fleet_lock"' "the Zincati drop-in hands finalization to ballast"

# ballastd itself, on that root: it finds the update files as it would write them and leaves them alone; on a
# fresh root it writes the same bytes
runs_ballastd() {  # runs_ballastd ROOT OS-RELEASE   (the flavour's ballastd, standalone, for a moment)
	cp "$top_srcdir/tests/data/updates/os-release-$2" "$1/etc/os-release"
	# removed here, not only truncated by the child's redirection: the wait below could otherwise read the last
	# run's "serving" line before this one's child opened the file, and kill it before it wrote anything
	rm -f "$T/b.log"
	"$BIN/ballastd" --root "$1" --socket "$T/b.sock" --log-level debug >"$T/b.log" 2>&1 &
	local p=$!
	wait_for 10 grep -q "serving as node" "$T/b.log" || diag "ballastd on $1 did not start: $(tail -n 3 "$T/b.log")"
	kill "$p"; wait "$p" 2>/dev/null
}
before=$(stat -c '%i %Y' "$R/etc/flatcar/update.conf")
runs_ballastd "$R" flatcar
is "$(stat -c '%i %Y' "$R/etc/flatcar/update.conf") $(grep -c 'Wrote' "$T/b.log")" "$before 0" \
	"ballastd (Flatcar) leaves the update.conf Ignition wrote alone: it is what it would write"
before=$(stat -c '%i %Y' "$R/etc/zincati/config.d/90-ballast.toml")
runs_ballastd "$R" fedora-coreos
is "$(stat -c '%i %Y' "$R/etc/zincati/config.d/90-ballast.toml") $(grep -c 'Wrote' "$T/b.log")" "$before 0" \
	"ballastd (Fedora CoreOS) leaves the Zincati drop-in alone"
mkdir -p "$T/fresh/etc/ballast"; cp "$EX" "$T/fresh/etc/ballast/ballast.json"
runs_ballastd "$T/fresh" flatcar
check "on a root without it, ballastd writes the same update.conf, byte for byte" -- \
	cmp "$T/fresh/etc/flatcar/update.conf" "$R/etc/flatcar/update.conf"
runs_ballastd "$T/fresh" fedora-coreos
check "and the same Zincati drop-in" -- cmp "$T/fresh/etc/zincati/config.d/90-ballast.toml" "$R/etc/zincati/config.d/90-ballast.toml"

# --- by URL: ignition downloads the binaries from https on loopback, trusting the config's CA ---
P=$T/pki
mkdir -p "$P" "$T/www"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.pem" -days 1 -subj /CN=ballast-test-ca >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -keyout "$P/srv.key" -out "$P/srv.csr" -subj /CN=127.0.0.1 >/dev/null 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1\n' > "$P/ext" &&
	openssl x509 -req -in "$P/srv.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -out "$P/srv.pem" -days 1 \
		-extfile "$P/ext" >/dev/null 2>&1 || bail "cannot make the test certificates"
cp "$BIN/ballastd" "$BIN/ballastctl" "$BIN/ballast-run" "$BIN/ballast-pause" "$T/www/"
port=$(( 20000 + RANDOM % 20000 ))
( cd "$T/www" && exec openssl s_server -quiet -WWW -accept "127.0.0.1:$port" -cert "$P/srv.pem" -key "$P/srv.key" \
	</dev/null >"$T/srv.log" 2>&1 ) &
srv_pid=$!
wait_for 10 curl -sf --cacert "$P/ca.pem" -o /dev/null "https://127.0.0.1:$port/ballastctl" || bail "the https server did not come up"
gen --config "$EX" --services "$T/svc" --binaries "$BIN" --binaries-url "https://127.0.0.1:$port/" --ca-file "$P/ca.pem" -o "$T/local.ign"
valid "$T/local.ign"; ok $? "by URL with a CA: valid $(cat "$T/val")"
R=$T/root-url
ign_root "$R" || bail "cannot prepare the root"
ign_apply "$T/local.ign" "$R"
ok $? "ignition downloads the binaries over https (the config's CA) and verifies them" || tail -5 "$R.log" | sed 's/^/#   /'
like "$(grep -c "GET https://127.0.0.1:$port/.*attempt" "$R.log")" '^4$' "four downloads"
for b in ballastd ballastctl ballast-run ballast-pause; do
	is "$(stat -c %a "$R/opt/bin/$b") $(sha512sum < "$R/opt/bin/$b")" "755 $(sha512sum < "$BIN/$b")" "/opt/bin/$b: 0755, the built one's sha512"
done
# a binary that is not the one the config was made for: ignition refuses it
printf 'tampered' >> "$T/www/ballastctl"
R=$T/root-bad
ign_root "$R" || bail "cannot prepare the root"
ign_apply "$T/local.ign" "$R"
ok $(( $? != 0 ? 0 : 1 )) "a download whose sha512 differs fails the files stage"
like "$(grep -iE 'hash|mismatch' "$R.log" | head -3)" "[Hh]ash|[Mm]ismatch" "and Ignition says the hash did not match"
check "the tampered binary is not installed" -- test ! -e "$R/opt/bin/ballastctl"
# without the CA the server is not trusted
gen --config "$EX" --binaries "$BIN" --binaries-url "https://127.0.0.1:$port/" -o "$T/noca.ign"
R=$T/root-noca
ign_root "$R" || bail "cannot prepare the root"
IGN_TIMEOUT=4 ign_apply "$T/noca.ign" "$R"
ok $(( $? != 0 ? 0 : 1 )) "without --ca-file the loopback server is not trusted: the files stage does not finish"
like "$(grep -m1 'GET error' "$R.log")" "x509: certificate signed by unknown authority" "Ignition says why (and retries, as on a boot)"
check "and nothing is installed from it" -- test ! -e "$R/opt/bin/ballastd"
kill "$srv_pid" 2>/dev/null; srv_pid=

# --- Butane: the same files, modes and units ---
gen --config "$EX" --services "$T/svc" --binaries "$BIN" --butane fcos -o "$T/b.bu"
is "$?" 0 "--butane fcos: generated"
gen --config "$EX" --services "$T/svc" --binaries "$BIN" --butane flatcar -o "$T/f.bu"
is "$?" 0 "--butane flatcar: generated"
butane_vs_ignition() {  # BUTANE IGNITION BINDIR VARIANT VERSION
	python3 - "$@" <<-'PY'
	import base64, gzip, json, sys, yaml
	bu = yaml.safe_load(open(sys.argv[1])); ign = json.load(open(sys.argv[2])); bindir = sys.argv[3]
	assert (bu["variant"], bu["version"]) == (sys.argv[4], sys.argv[5]), (bu["variant"], bu["version"])
	def data(c):
	    if c.get("source", "").startswith("https://"): return (c["source"], c["verification"]["hash"])
	    if "local" in c: return open(bindir + "/" + c["local"], "rb").read()
	    if "inline" in c: return c["inline"].encode()
	    raw = base64.b64decode(c["source"].split(",", 1)[1])
	    return gzip.decompress(raw) if c.get("compression") == "gzip" else raw
	bf, jf = bu["storage"]["files"], ign["storage"]["files"]
	assert [(f["path"], f["mode"], f["overwrite"]) for f in bf] == [(f["path"], f["mode"], f["overwrite"]) for f in jf]
	for a, b in zip(bf, jf): assert data(a["contents"]) == data(b["contents"]), a["path"]
	assert [d["path"] for d in bu["storage"]["directories"]] == [d["path"] for d in ign["storage"]["directories"]]
	assert bu["systemd"]["units"] == ign["systemd"]["units"]
	assert bu["passwd"] == ign["passwd"]
	bca = bu.get("ignition", {}).get("security", {}).get("tls", {}).get("certificate_authorities", [])
	ica = ign["ignition"].get("security", {}).get("tls", {}).get("certificateAuthorities", [])
	assert [data(c) for c in bca] == [data(c) for c in ica]
	PY
}
# --butane fcos puts the binaries where Fedora CoreOS's PATH finds them: the same config, /usr/local/bin for /opt/bin
sed 's|/opt/bin/|/usr/local/bin/|g' "$T/inline.ign" >"$T/inline-usrlocal.ign"
butane_vs_ignition "$T/b.bu" "$T/inline-usrlocal.ign" "$BIN" fcos 1.5.0 2>"$T/err"
ok $? "the Butane source (fcos 1.5.0) has the Ignition config's files, modes, contents, units and group, in /usr/local/bin $(tail -1 "$T/err")"
butane_vs_ignition "$T/f.bu" "$T/inline.ign" "$BIN" flatcar 1.0.0 2>"$T/err"
ok $? "and so has the flatcar 1.0.0 one $(tail -1 "$T/err")"
like "$(head -3 "$T/b.bu")" "butane --strict --files-dir $BIN" "it says how to turn it into an Ignition config"
gen --config "$EX" --binaries "$BIN" --binaries-url https://dl.example.com/b --butane flatcar -o "$T/u.bu"
like "$(grep -A7 'path: "/opt/bin/ballastd"' "$T/u.bu")" "hash: \"sha512-$(sha512sum < "$BIN/ballastd" | cut -d' ' -f1)\"" \
	"by URL, the Butane source carries the source and the sha512"

gen --config "$EX" --services "$T/svc" --binaries "$BIN" --binaries-url "https://127.0.0.1:$port/" --ca-file "$P/ca.pem" \
	--butane flatcar -o "$T/local.bu"
butane_vs_ignition "$T/local.bu" "$T/local.ign" "$BIN" flatcar 1.0.0 2>"$T/err"
ok $? "by URL with a CA, the Butane source has the same sources, hashes and CA $(tail -1 "$T/err")"

# --- --install sysext: the system extension image instead of the plain files ---
command -v mksquashfs >/dev/null || bail "mksquashfs is not installed (Debian package squashfs-tools; tools/deps.sh)"
sh "$top_srcdir/tools/mksysext.sh" --srcdir "$top_srcdir" --bin "$BIN" --version 0.1.0 --arch x86-64 \
	--url https://dl.example.com/ballast/ --out "$T/sysext" >/dev/null || bail "cannot build a system extension image"
IMG=$T/sysext/ballast-0.1.0-x86-64.raw
gen --install sysext --sysext "$IMG" --config "$EX" -o "$T/sx.ign"
ok $? "--install sysext writes a config $(cat "$T/err")"
valid "$T/sx.ign"; ok $? "ignition-validate accepts it $(cat "$T/val")"
is "$(jq -r '.storage.files[] | select(.path == "/var/lib/extensions/ballast.raw") | .contents.source' "$T/sx.ign" |
	sed 's/^data:;base64,//' | base64 -d | gunzip | sha256sum | cut -d' ' -f1)" "$(sha256sum < "$IMG" | cut -d' ' -f1)" \
	"the image is /var/lib/extensions/ballast.raw, byte for byte (gzip inline)"
is "$(jq -r '[.storage.files[].path | select(test("^/opt/bin/|^/usr/local/bin/"))] | length' "$T/sx.ign")" 0 "no plain binaries"
is "$(jq -c '[.systemd.units[] | [.name, .enabled, (.contents != null)]]' "$T/sx.ign")" \
	'[["systemd-sysext.service",true,false],["docker.service",true,false]]' \
	"systemd-sysext.service and Docker enabled; ballast's units come from the image"
is "$(jq -r '.passwd.groups[0].name' "$T/sx.ign")" ballast "the group ballast is made by Ignition (before any sysusers run)"
gen --install sysext --sysext "$IMG" --sysext-url https://dl.example.com/ballast/ -o "$T/sxu.ign"
valid "$T/sxu.ign"; ok $? "by URL: ignition-validate accepts it $(cat "$T/val")"
is "$(jq -r '.storage.files[] | select(.path == "/var/lib/extensions/ballast.raw") | .contents | .source + " " + .verification.hash' "$T/sxu.ign")" \
	"https://dl.example.com/ballast/ballast-0.1.0-x86-64.raw sha512-$(sha512sum < "$IMG" | cut -d' ' -f1)" \
	"by URL: the image's URL and sha512"
tr=$(jq -r '.storage.files[] | select(.path == "/etc/sysupdate.ballast.d/ballast.transfer") | .contents.source' "$T/sxu.ign" |
	sed 's/^data:;base64,//' | base64 -d)
like "$tr" "Path=https://dl.example.com/ballast/" "the sysupdate transfer file fetches from that URL"
like "$tr" "CurrentSymlink=/etc/extensions/ballast.raw" "and points /etc/extensions/ballast.raw at the newest image"
gen --install sysext --binaries "$BIN" -o "$T/no.ign"
is "$?:$(cat "$T/err")" "2:ballast-ignition: --install sysext needs --sysext IMAGE (make sysext)" "--install sysext without an image is refused"
gen --install sysext --sysext "$IMG" --binaries "$BIN" -o "$T/no.ign"
like "$?:$(cat "$T/err")" "^2:.*no --binaries" "and with --binaries too"
check "nothing written" -- test ! -e "$T/no.ign"

done_testing
