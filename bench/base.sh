#!/usr/bin/env bash
# A checkout of an older commit for the benches' "before" column, next to this one and sharing its node_modules
# (its own packages/dev, so the dev servers are that commit's too). Prints the directory:
#   BASE=$(bash bench/base.sh <commit>) npx bun bench/engine.ts
set -euo pipefail
commit=${1:?usage: bash bench/base.sh <commit> [dir]}
root=$(git rev-parse --show-toplevel)
dir=${2:-$(dirname "$root")/dw-base-$(git rev-parse --short "$commit")}
[ -d "$dir" ] || git worktree add --detach "$dir" "$commit" >/dev/null 2>&1
mkdir -p "$dir/node_modules"
for entry in "$root"/node_modules/* "$root"/node_modules/.bin; do
  name=$(basename "$entry")
  [ "$name" = durable-workflow-edge-dev ] && continue
  [ -e "$dir/node_modules/$name" ] || ln -s "$entry" "$dir/node_modules/$name"
done
[ -e "$dir/node_modules/durable-workflow-edge-dev" ] || ln -s ../packages/dev "$dir/node_modules/durable-workflow-edge-dev"
echo "$dir"
