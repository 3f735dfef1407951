# Shared "install what a fresh machine lacks" steps for scripts/test and scripts/demo.
# Each is idempotent and quiet when nothing is missing.

ensure_node_modules() {
  # npm ci when node_modules is absent or older than the lock file.
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo "[install] npm ci" >&2
    npm ci --no-audit --no-fund >&2
  fi
  node scripts/postinstall.mjs >&2 # idempotent; also fixes a node_modules installed with --ignore-scripts
}

ensure_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "[install] apt-get install ${missing[*]}" >&2
  local sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

ensure_python_packages() {
  local missing=()
  for pkg in "$@"; do
    python3 -c "import $pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "[install] pip install ${missing[*]}" >&2
  python3 -m pip install -q "${missing[@]}" >&2
}

# SwiftShader, a software Vulkan device, for the webgpu tests: Debian's chromium package ships it
# (/usr/lib/chromium/vk_swiftshader_icd.json), libvulkan1 is the loader Dawn opens. Its ICD file is
# outside the loader's search path, so only programs given VK_ICD_FILENAMES see it.
ensure_swiftshader() {
  [[ -f /usr/lib/chromium/vk_swiftshader_icd.json ]] && dpkg -s libvulkan1 >/dev/null 2>&1 && return 0
  ensure_debian_packages chromium libvulkan1
}
