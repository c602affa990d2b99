# Read-only look at the host for apim.selfhosted.docker, in one round trip instead of one task per question.
# Prints key=value lines that the filter apim.selfhosted.docker_settings parses. Changes nothing.
# Environment: APIM_DOCKER_UNIT, APIM_DOCKER_CONFIG (daemon.json path), APIM_DOCKER_REPO_KEY (Docker CE's keyring),
# APIM_DOCKER_PACKAGES, APIM_DOCKER_USERS.
set -u
yes_no() { if "$@"; then echo yes; else echo no; fi; }
proc=/proc/sys/net/ipv4/conf/all/route_localnet
echo "route_localnet_exists=$(yes_no test -e "$proc")"
echo "route_localnet_writable=$(yes_no test -w "$proc")"
echo "legacy_repo_file=$(yes_no test -e /etc/apt/sources.list.d/docker.list)"
echo "repo_key_exists=$(yes_no test -s "$APIM_DOCKER_REPO_KEY")"
echo "unit_enabled=$(systemctl is-enabled "$APIM_DOCKER_UNIT" 2>/dev/null)"
echo "unit_active=$(systemctl is-active "$APIM_DOCKER_UNIT" 2>/dev/null)"
if group=$(getent group docker); then
  echo "docker_group=yes"
  echo "docker_group_members=${group##*:}"
else
  echo "docker_group=no"
fi
for user in $APIM_DOCKER_USERS; do
  if getent passwd "$user" >/dev/null; then echo "user=$user"; fi
done
if [ -e "$APIM_DOCKER_CONFIG" ]; then
  echo "daemon_json_b64=$(base64 -w0 <"$APIM_DOCKER_CONFIG")"
  echo "daemon_json_stat=$(stat -c '%F %a %U %G' "$APIM_DOCKER_CONFIG")"
fi
if [ -e "$(dirname "$APIM_DOCKER_CONFIG")" ]; then
  echo "daemon_json_dir_stat=$(stat -c '%F %a %U %G' "$(dirname "$APIM_DOCKER_CONFIG")")"
fi
if command -v dpkg-query >/dev/null; then
  echo "dpkg=yes"
  # shellcheck disable=SC2086 # one word per package
  dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Version}\n' $APIM_DOCKER_PACKAGES 2>/dev/null |
    while IFS='|' read -r status name version; do
      case $status in ii*) echo "package=$name $version" ;; esac
    done
fi
if out=$(docker info --format '{{json .}}' 2>&1); then
  echo "info=$out"
else
  echo "info_error=$(printf '%s\n' "$out" | tail -n 1)"
fi
# The platform, so that the role needs no fact gathering (facts from setup, when the play has them, win).
if [ -r /etc/os-release ]; then
  (. /etc/os-release && echo "os_id=${ID:-}" && echo "os_version_id=${VERSION_ID:-}" && echo "os_codename=${VERSION_CODENAME:-}")
fi
echo "architecture=$(uname -m)"
for mgr in apt-get dnf yum zypper apk pacman; do
  if command -v "$mgr" >/dev/null; then echo "pkg_mgr=${mgr%-get}"; break; fi
done
if [ -d /run/systemd/system ]; then echo "service_mgr=systemd"; else echo "service_mgr=$(cat /proc/1/comm 2>/dev/null)"; fi
echo "apparmor=$(if [ -d /sys/kernel/security/apparmor ]; then echo enabled; else echo disabled; fi)"
exit 0
