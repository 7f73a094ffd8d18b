# Sourced by scripts/test after _setup.sh: the calendar page's tests drive Debian's headless
# chromium through chromium-driver, and its screenshots need a Korean font. Install what is
# missing with apt-get (root, or passwordless sudo); CHROMIUM / CHROMEDRIVER name others.
browser_packages=()
[ -n "${CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || browser_packages+=(chromium)
[ -n "${CHROMEDRIVER:-}" ] || command -v chromedriver >/dev/null 2>&1 || browser_packages+=(chromium-driver)
{ command -v fc-list >/dev/null 2>&1 && fc-list :lang=ko | grep -q .; } || browser_packages+=(fonts-nanum)
if [ ${#browser_packages[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
    echo "Installing ${browser_packages[*]} for the browser tests (apt-get)..." >&2
    apt_log=$(mktemp)
    if ! { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
             --no-install-recommends "${browser_packages[@]}"; } >"$apt_log" 2>&1; then
      cat "$apt_log" >&2
      echo "warning: could not install ${browser_packages[*]}; the browser tests fail until they are installed" >&2
    fi
    rm -f "$apt_log"
  else
    echo "warning: no apt-get: install Chromium and its chromedriver, or set CHROMIUM and CHROMEDRIVER; the browser tests fail without them" >&2
  fi
fi
