#!/usr/bin/env bash
# Makes a stand-in for the Dockerfile's build stage base (GO_IMAGE) from this machine's Go
# toolchain, for machines that cannot pull images from a registry: scratch, with GOROOT,
# busybox as /bin/sh (the RUN step needs a shell), and the CA certificates. Needs buildah
# (as root) and a static busybox (Debian: busybox-static). Prints the image's name.
#   make image GO_IMAGE=$(deploy/image/go-builder.sh)
set -euo pipefail
goroot=$(go env GOROOT)
version=$(go env GOVERSION)
name=localhost/patient-profile/go-builder:${version#go}
# Made once per Go version: the tag names it.
if buildah inspect --type image "$name" >/dev/null 2>&1; then
  echo "$name"
  exit 0
fi
busybox=$(command -v busybox)
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  echo "go-builder: $busybox is not statically linked (install busybox-static)" >&2
  exit 1
fi
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null' EXIT
buildah copy --quiet "$ctr" "$goroot" /usr/local/go >/dev/null
buildah copy --quiet "$ctr" "$busybox" /bin/busybox >/dev/null
buildah copy --quiet "$ctr" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
buildah run --isolation chroot "$ctr" /bin/busybox --install -s /bin
buildah run --isolation chroot "$ctr" /bin/sh -c "mkdir -p /tmp /root && chmod 1777 /tmp"
buildah config --env PATH=/usr/local/go/bin:/bin --env HOME=/root --env GOTOOLCHAIN=local \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$ctr"
buildah commit --quiet "$ctr" "$name" >/dev/null
echo "$name"
