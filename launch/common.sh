# Helpers shared by the launch scripts; sourced, not run. Errors are prefixed
# with the running script's name.
# shellcheck shell=bash

die() { echo "$(basename "$0"): error: $*" >&2; exit 2; }

# Prints a command line, quoting only the words that need it, so the output
# can be pasted back into a shell.
print_cmd() {
  local out=() a
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      out+=("$a")
    else
      out+=("'${a//\'/\'\\\'\'}'")
    fi
  done
  echo "${out[*]}"
}
