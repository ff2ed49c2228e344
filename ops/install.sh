#!/usr/bin/env bash
# Install the engine as systemd services, one instance per exchange account.
#
#   sudo ops/install.sh [--bin PATH] [--root DIR] ACCOUNT[:PORT] ...
#
# Creates the system user `engine`, /etc/engine (config, owned by engine: the console saves
# there) and /var/lib/engine/ACCOUNT (data, mode 0700), installs engine.service and
# engine@.service, and writes /etc/engine/ACCOUNT.toml (the default configuration with its own
# data_dir and http_port; ports default to 8081, 8082, … in argument order) plus an empty
# /etc/engine/ACCOUNT.env (root, 0600) for ENGINE_* variables. Existing files are kept.
# --bin PATH   copy this executable (the single-file build) to /usr/local/bin/engine
# --root DIR   install under DIR instead of / (no user is created, nothing is chowned, systemctl
#              is not called) — for packaging and for the tests
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT=""
BIN=""
ACCOUNTS=()
while (($#)); do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --bin) BIN="${2:?--bin needs a file}"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) ACCOUNTS+=("$1"); shift ;;
  esac
done
ROOT="${ROOT%/}"
REAL=$([[ -z "$ROOT" ]] && echo 1 || echo 0)
if ((REAL)) && [[ $(id -u) -ne 0 ]]; then
  echo "run as root (or use --root DIR)" >&2; exit 1
fi

if [[ -n "$BIN" ]]; then
  install -D -m 0755 "$BIN" "$ROOT/usr/local/bin/engine"
fi
ENGINE="$ROOT/usr/local/bin/engine"
[[ -x "$ENGINE" ]] || ENGINE="$(command -v engine || true)"
if [[ -z "$ENGINE" && ${#ACCOUNTS[@]} -gt 0 ]]; then
  echo "no engine executable: pass --bin PATH or pip-install the package first" >&2; exit 1
fi

if ((REAL)) && ! id engine >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/engine --no-create-home --shell /usr/sbin/nologin engine
  echo "created system user engine"
fi
own() { ((REAL)) && chown "$@" || true; }

install -d -m 0750 "$ROOT/etc/engine" "$ROOT/var/lib/engine"
own engine:engine "$ROOT/etc/engine" "$ROOT/var/lib/engine"
install -D -m 0644 "$HERE/engine.service" "$ROOT/etc/systemd/system/engine.service"
install -D -m 0644 "$HERE/engine@.service" "$ROOT/etc/systemd/system/engine@.service"

port=8081
for spec in "${ACCOUNTS[@]}"; do
  name="${spec%%:*}"
  [[ "$spec" == *:* ]] && port="${spec#*:}"
  if ! [[ "$name" =~ ^[a-z0-9][a-z0-9_-]{0,31}$ ]]; then
    echo "account name '$name': use 1-32 of a-z 0-9 _ - (it names files and the unit)" >&2
    exit 2
  fi
  if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    echo "account $name: port '$port' is not a TCP port" >&2; exit 2
  fi
  toml="$ROOT/etc/engine/$name.toml"
  if [[ -e "$toml" ]]; then
    echo "kept $toml"
  else
    tmp="$(mktemp -d)"
    "$ENGINE" init --config "$tmp/engine.toml" >/dev/null
    sed -e "s#^data_dir = .*#data_dir = \"/var/lib/engine/$name\"#" \
        -e "s#^http_port = .*#http_port = $port#" "$tmp/engine.toml" > "$toml"
    rm -rf "$tmp"
    chmod 0640 "$toml"
    own engine:engine "$toml"
    echo "wrote $toml (port $port)"
  fi
  env_file="$ROOT/etc/engine/$name.env"
  if [[ ! -e "$env_file" ]]; then
    printf '# ENGINE_* variables for engine@%s (read by systemd; root only)\n' "$name" > "$env_file"
    printf '# ENGINE_ADMIN_PASSWORD=...\n# ENGINE_WEBHOOK_SECRET=...\n' >> "$env_file"
    chmod 0600 "$env_file"
  fi
  install -d -m 0700 "$ROOT/var/lib/engine/$name"
  own engine:engine "$ROOT/var/lib/engine/$name"
  port=$((port + 1))
done

if ((REAL)) && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
fi
for spec in "${ACCOUNTS[@]}"; do
  name="${spec%%:*}"
  echo "next for $name:"
  echo "  sudo -u engine engine secrets set --config /etc/engine/$name.toml security.webhook_secret"
  echo "  systemctl enable --now engine@$name"
done
