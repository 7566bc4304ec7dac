# Sourced first by the scripts/* that take plain positional arguments: `--help` or `-h`
# prints the script's header comment (what it does, its usage) and exits, before any set-up.
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
  exit 0
fi
