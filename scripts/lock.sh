#!/usr/bin/env bash
# Resolve pyproject.toml's ranges into uv.lock (one universal lock: Python 3.11-3.13, every
# platform) and export it to requirements/*.txt, the pinned, hashed files every install
# reads through scripts/install-deps.sh. `make lock`; `make lock LOCK_ARGS=--upgrade` moves
# every package to its newest allowed version, `LOCK_ARGS="--upgrade-package flask"` one.
#
# torch is left out of the hashed exports: its CPU build comes from the PyTorch CPU index,
# whose files the lock cannot pin (see scripts/install-deps.sh); requirements/torch.txt
# carries its locked version alone. The lock still pins torch's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-.venv/bin/uv}"

"$UV" lock --quiet "$@"
for profile in runtime ml test dev; do
  case "$profile" in
    runtime) extras=() ;;
    ml)      extras=(--extra ml) ;;
    test)    extras=(--extra dev) ;;
    dev)     extras=(--extra ml --extra dev) ;;
  esac
  "$UV" export --quiet --frozen --format requirements.txt --no-emit-project \
    --no-emit-package torch "${extras[@]}" --output-file "requirements/$profile.txt"
done
torch=$(sed -n '/^name = "torch"$/{n;s/^version = "\(.*\)"$/\1/p;}' uv.lock)
test -n "$torch"
printf '%s\n' "# torch at the version uv.lock pins (written by scripts/lock.sh); scripts/install-deps.sh" \
  "# installs it from the PyTorch CPU index, unhashed: the lock cannot pin that index's files." \
  "torch==$torch" > requirements/torch.txt
echo "uv.lock and requirements/*.txt are up to date"
