# Shell functions scripts/postgres and scripts/services share (sourced, not run).

die() { echo "error: $*" >&2; exit 1; }

# remembered_port FILE VARIABLE DEFAULT: $VARIABLE if set, else the port in FILE (a state dir's
# memory of the last one used), else DEFAULT
remembered_port() {
  if [ -n "${!2:-}" ]; then echo "${!2}"; elif [ -f "$1" ]; then cat "$1"; else echo "$3"; fi
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }  # something listens on 127.0.0.1:PORT
