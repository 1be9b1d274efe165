#!/usr/bin/env bash
# Prepares the Python test backend: creates <repo>/.venv, installs the pinned
# requirements and generates the stubs into tests/python/gen/ (not committed).
# Idempotent and quick on re-run: each step is skipped when its inputs have not
# changed since it last ran.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv"
python="$venv/bin/python"

if [ ! -x "$python" ]; then
    echo "setup.sh: creating $venv"
    python3 -m venv "$venv"
fi

stamp="$venv/.switchboard-requirements"
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
    echo "setup.sh: installing requirements"
    "$python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi

gen="$here/gen"
if [ ! -f "$gen/inventory_pb2_grpc.py" ] || [ "$here/inventory.proto" -nt "$gen/inventory_pb2_grpc.py" ] \
    || [ "$stamp" -nt "$gen/inventory_pb2_grpc.py" ]; then
    echo "setup.sh: generating stubs into $gen"
    mkdir -p "$gen"
    # googleapis-common-protos ships google/api/*.proto next to its modules.
    googleapis="$("$python" -c 'import os, google.api.annotations_pb2 as m; print(os.path.dirname(os.path.dirname(os.path.dirname(m.__file__))))')"
    "$python" -m grpc_tools.protoc -I "$here" -I "$googleapis" \
        --python_out="$gen" --grpc_python_out="$gen" "$here/inventory.proto"
fi
echo "setup.sh: ready (run: $python $here/inventory_server.py --port 0)"
