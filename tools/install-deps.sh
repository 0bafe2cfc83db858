#!/usr/bin/env bash
# Installs everything lockstep needs on a fresh Debian 12 (bookworm) machine. Idempotent; run as root.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git clang-14 clang-format-14 libclang-rt-14-dev lld-14
  afl++ googletest libgtest-dev librapidcheck-dev libz3-dev libbenchmark-dev libcli11-dev
  nlohmann-json3-dev libfmt-dev libspdlog-dev dpdk-dev libdpdk-dev qemu-system-x86 qemu-utils python3 procps
  libc++-14-dev libc++abi-14-dev llvm-14 zip unzip python3-yaml python3-jsonschema ca-certificates
  libncurses-dev graphviz
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  echo "install-deps: installed ${missing[*]}"
fi

# The official SARIF 2.1.0 JSON schema, which tests/cli/sarif_output.py validates `--sarif`
# output against. Debian packages no copy, so it comes from the npm tarball of
# @microsoft/jest-sarif 1.0.0-beta.0, checked against npm's published dist.integrity (pinned
# here: `npm view @microsoft/jest-sarif@1.0.0-beta.0 dist.integrity`); only the schema is kept.
# python3 (installed above, with ca-certificates for HTTPS) downloads it: a fresh Debian 12 has
# no curl or wget.
$SUDO python3 - <<'PY'
import base64, hashlib, io, os, sys, tarfile, urllib.request
URL = "https://registry.npmjs.org/@microsoft/jest-sarif/-/jest-sarif-1.0.0-beta.0.tgz"
INTEGRITY = "sha512-A1fOhPd6Ic5iDk4F9YPw1qNB4XF+7+IviR7xl8r2F6QzQkx5cpY9LsGk2rExiFIEcBbjpVnSmwWGBukASkiQ9A=="
MEMBER = "package/lib/schemas/sarif-2.1.0-rtm.5.json"
DEST = "/usr/local/share/lockstep/sarif-2.1.0-rtm.5.json"
SCHEMA_SHA256 = "2d99159ae54a3eea97f81781cff48780548657c35949f4b7f25e99a2ba4de4f8"
if os.path.exists(DEST):
    with open(DEST, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() == SCHEMA_SHA256:
            print("install-deps: " + DEST + " present")
            sys.exit(0)
with urllib.request.urlopen(URL, timeout=60) as response:
    tgz = response.read()
digest = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
if digest != INTEGRITY:
    sys.exit("install-deps: " + URL + ": integrity " + digest + ", expected " + INTEGRITY)
with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
    schema = tar.extractfile(MEMBER).read()
if hashlib.sha256(schema).hexdigest() != SCHEMA_SHA256:
    sys.exit("install-deps: " + MEMBER + " in the verified tarball has an unexpected sha256")
os.makedirs(os.path.dirname(DEST), exist_ok=True)
with open(DEST + ".tmp", "wb") as f:
    f.write(schema)
os.replace(DEST + ".tmp", DEST)
print("install-deps: installed " + DEST)
PY
