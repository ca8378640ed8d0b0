#!/bin/bash
# tests/lib/fault-check.sh SECONDS NAME=VERSION... - run inside the sandbox by the fault tests: waits (at most SECONDS)
# until ballast's services are exactly as given, and prints what is still wrong when they are not.
# NAME=V: ballast-NAME.service has its unit file, is active, and its main process was started with V=V in its
# environment (the specs of these tests carry "env": {"V": ...}). NAME= (empty): no unit file, not running, and
# systemd no longer knows the unit (LoadState not-found: it was reloaded after the file went).
# A Docker service (its unit runs `ballast-run docker ... --body`): exactly one container labelled
# io.ballast.service=NAME, running, with V=V in its environment; a service that must not exist has no container.
# Also: the processes in ballast.slice are those of the wanted services only, no wants link dangles, and no
# temporary file of an interrupted write is left in /var/lib/ballast or the unit dir.
end=$((SECONDS + $1)); shift
while :; do
	bad= want=0 names=" "
	for kv; do
		n=${kv%%=*} v=${kv#*=} u=ballast-${kv%%=*}.service as= pid= ls=
		names="$names$n "
		while IFS== read -r k val; do
			case $k in ActiveState) as=$val ;; MainPID) pid=$val ;; LoadState) ls=$val ;; esac
		done < <(systemctl show -p ActiveState -p MainPID -p LoadState "$u")
		containers=
		[ -S /run/docker.sock ] && containers=$(/usr/bin/docker ps -a --filter "label=io.ballast.service=$n" --format '{{.State}}' | tr '\n' ' ')
		if [ -n "$v" ]; then
			want=$((want + 1))
			[ -f "/etc/systemd/system/$u" ] || bad="$bad $n:no-unit-file"
			[ "$as" = active ] || bad="$bad $n:$as"
			if grep -q -- '--body ' "/etc/systemd/system/$u" 2>/dev/null; then
				[ "$containers" = "running " ] || bad="$bad $n:containers=[$containers]"
				/usr/bin/docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "ballast-$n" 2>/dev/null | grep -qx "V=$v" ||
					bad="$bad $n:container-not-V=$v"
			else
				tr '\0' '\n' 2>/dev/null < "/proc/$pid/environ" | grep -qx "V=$v" || bad="$bad $n:not-running-V=$v"
			fi
		else
			[ -z "$containers" ] || bad="$bad $n:containers-left=[$containers]"
			[ ! -e "/etc/systemd/system/$u" ] || bad="$bad $n:unit-file-left"
			case $as in inactive|failed) ;; *) bad="$bad $n:$as" ;; esac
			[ "$ls" = not-found ] || bad="$bad $n:LoadState=$ls"
		fi
	done
	for f in /etc/systemd/system/ballast-*.service; do
		[ -e "$f" ] || continue
		f=${f##*/ballast-}
		case $names in *" ${f%.service} "*) ;; *) bad="$bad unit-file-of-no-service:ballast-$f" ;; esac
	done
	procs=$(cat /sys/fs/cgroup/systemd/ballast.slice/ballast-*.service/cgroup.procs 2>/dev/null | wc -l)
	[ "$procs" = "$want" ] || bad="$bad processes-in-ballast.slice:$procs/$want"
	t=$(find /var/lib/ballast /etc/systemd/system -name '.#*' 2>/dev/null | head -3 | tr '\n' ' ')
	[ -z "$t" ] || bad="$bad temp-files:$t"
	for l in /etc/systemd/system/*.wants/ballast-*.service; do
		[ ! -L "$l" ] || [ -e "$l" ] || bad="$bad dangling-link:$l"
	done
	[ -z "$bad" ] && exit 0
	[ "$SECONDS" -lt "$end" ] || { echo "$bad"; exit 1; }
	sleep 0.05
done
