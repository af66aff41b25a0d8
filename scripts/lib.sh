# Shared by run.sh and test.sh: system packages and the virtualenv, each installed only
# when missing or changed, so that a second run starts in seconds.

# Debian packages the job center needs at run time (processors add theirs here); gcc builds
# the pdf processor's C helper (ensure_native).
RUNTIME_PACKAGES=(python3 python3-venv gcc tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng ffmpeg espeak-ng sox)

# Debian packages only the tests need: the browser the admin's Playwright tests drive.
TEST_PACKAGES=(chromium)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: need root (or sudo) to install system packages: $*" >&2; return 1
  fi
}

# ensure_packages PKG...: apt-get install what is not installed yet (apt-get update once).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing system packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_venv REQUIREMENTS_FILE: .venv with these requirements, re-installed only when a
# requirements file changed (requirements-dev.txt includes requirements.txt, so installing it
# satisfies both).
ensure_venv() {
  local requirements=$1 digest
  digest=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv"
    python3 -m venv .venv
  fi
  if [ "$(cat ".venv/.installed-$requirements" 2>/dev/null)" != "$digest" ]; then
    echo "Installing Python packages from $requirements"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r "$requirements"
    echo "$digest" >".venv/.installed-$requirements"
    if [ "$requirements" = requirements-dev.txt ]; then
      echo "$digest" >.venv/.installed-requirements.txt
    fi
  fi
}

# ensure_native: the pdf processor's C helper, built once per version of its source
# (processors/pdf/native). Without a compiler it warns, and the pdfium engine runs on, slower.
ensure_native() {
  .venv/bin/python -m processors.pdf.native
}
