# Shared by the anvil scripts: the repository's pinned tools, the local chain's address, and the
# service binary built in release mode. Sourced, not run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '==> %s\n' "$*" >&2; }

# Anvil's first development account: it deploys (so the contract lands at the address the
# default configuration names) and funds the oracle. Public test data of every Anvil.
ANVIL_ACCOUNT_0=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
ANVIL_HOST=127.0.0.1
ANVIL_PORT="${ANVIL_PORT:-8545}"
RPC_URL="http://${ANVIL_HOST}:${ANVIL_PORT}"
DATA_DIR="$root/data"
ANVIL_PID_FILE="$DATA_DIR/anvil.pid"
ANVIL_STATE="$DATA_DIR/anvil-state.json"

anvil_bin="$root/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
cast_bin="$root/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"

ensure_tools() {
  if [[ ! -x "$anvil_bin" || ! -x "$cast_bin" ]]; then
    say "npm ci (anvil and cast from package-lock.json)"
    npm ci --no-audit --no-fund >&2
  fi
}

service_bin() {
  local target="${CARGO_TARGET_DIR:-$root/target}"
  printf '%s/release/revshare-oracle' "$target"
}

# The first release build compiles every dependency and takes many minutes;
# later ones take seconds. cargo shows its progress on stderr; stdout stays clean.
ensure_service_built() {
  say "cargo build --release (the first build takes many minutes; cargo shows its progress)"
  cargo build --release --locked >&2
}

anvil_answers() {
  "$cast_bin" chain-id --rpc-url "$RPC_URL" >/dev/null 2>&1
}
