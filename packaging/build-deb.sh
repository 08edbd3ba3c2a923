#!/usr/bin/env bash
# Builds the Debian package from artifacts/podmon (run ./publish.sh first) with Debian's own
# dpkg-deb: podmon_<version>_amd64.deb in .build/deb/ (or $1), its path printed last.
# The version is the csproj <Version> plus "+git<commits>.<sha>" inside a git checkout (commit
# count first, so later builds of one branch sort higher); PODMON_DEB_VERSION overrides it.
# File times are the commit's time, so the same commit gives the same package.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-$root/.build/deb}
bin=$root/artifacts/podmon
[ -x "$bin" ] || { echo "build-deb.sh: $bin is missing; run ./publish.sh first" >&2; exit 1; }
file "$bin" | grep -q 'statically linked' || { echo "build-deb.sh: $bin is not statically linked" >&2; exit 1; }

base=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' src/Podmon/Podmon.csproj | head -1)
if [ -n "${PODMON_DEB_VERSION:-}" ]; then
    version=$PODMON_DEB_VERSION
elif git rev-parse -q --verify HEAD >/dev/null 2>&1; then
    version="$base+git$(git rev-list --count HEAD).$(git rev-parse --short=7 HEAD)"
else
    version=$base
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
arch=$(dpkg --print-architecture)
# The binary embeds Debian's static glibc (libc.a from libc6-dev): name that source version.
glibc=$(dpkg-query -W -f='${source:Package} (= ${source:Version})' libc6-dev)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
pkg=$stage/podmon
doc=$pkg/usr/share/doc/podmon
install -d "$pkg/DEBIAN" "$pkg/usr/libexec/podmon" "$pkg/usr/share/man/man8" "$doc/examples" "$doc/docs" \
    "$pkg/usr/share/lintian/overrides"
# as dh_strip does: the already stripped binary loses its .comment section (compiler banners)
objcopy --remove-section=.comment "$bin" "$pkg/usr/libexec/podmon/podmon"
chmod 0755 "$pkg/usr/libexec/podmon/podmon"
sed "s/@VERSION@/$version/" packaging/podmon.8 | gzip -9n > "$pkg/usr/share/man/man8/podmon.8.gz"
install -m 0644 packaging/copyright "$doc/copyright"
gzip -9n < README.md > "$doc/README.md.gz"
# the topic documents the README links to (docs/NAME.md -> docs/NAME.md.gz, beside it)
for f in docs/*.md; do gzip -9n < "$f" > "$doc/docs/$(basename "$f").gz"; done
cp -r packaging/examples/. "$doc/examples/"
install -m 0644 packaging/lintian-overrides "$pkg/usr/share/lintian/overrides/podmon"
{
    echo "podmon ($version) unstable; urgency=medium"
    echo
    echo "  * Built from commit $commit."
    echo
    echo " -- podmon maintainers <podmon@example.org>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.gz"
find "$pkg" -type d -exec chmod 0755 {} +
find "$doc" "$pkg/usr/share/man" "$pkg/usr/share/lintian" -type f -exec chmod 0644 {} +

size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<EOF
Package: podmon
Version: $version
Architecture: $arch
Maintainer: podmon maintainers <podmon@example.org>
Installed-Size: $size
Built-Using: $glibc
Recommends: runc | crun
Suggests: podman
Section: admin
Priority: optional
Description: pod-level OCI container runtime monitor
 podmon starts containers through an OCI runtime such as runc, holds their
 standard streams, writes their logs, records exit codes and OOM kills, and
 serves attach, exec and terminal resizes. One statically linked binary runs
 either as a conmon-rs compatible server, one process per pod (CRI-O
 runtime_type "pod"), or as a drop-in for the C conmon, one process per
 container (podman's conmon_path, CRI-O runtime_type "oci").
 .
 The binary is installed as /usr/libexec/podmon/podmon. Nothing is activated:
 a CRI-O drop-in and a podman containers.conf.d snippet are shipped as
 examples in /usr/share/doc/podmon/examples.
EOF
(cd "$pkg" && find usr -type f | LC_ALL=C sort | xargs md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
deb=$out/podmon_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
