#!/bin/bash
# An isolated podman configuration (like shared/harness/podman/bench/setup.sh) under $1, with the
# busybox image imported from a tarball built here. Prints nothing; use "$1/pm" as podman.
set -euo pipefail
H=$1
mkdir -p $H/{etc/cni/net.d,storage/tmp,runroot,run/events,rootfs/bin,rootfs/etc,rootfs/tmp,rootfs/proc,rootfs/sys,rootfs/dev}
NOFILE=$(ulimit -Hn)
NPROC=$(( $(ulimit -Hu) < 32768 ? $(ulimit -Hu) : 32768 ))
cat > $H/etc/containers.conf <<CONF
[containers]
log_driver = "k8s-file"
netns = "none"
cgroupns = "host"
default_ulimits = ["nofile=${NOFILE}:${NOFILE}", "nproc=${NPROC}:${NPROC}"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$H/run/events/events.log"
tmp_dir = "$H/run/libpod"
static_dir = "$H/storage/libpod"
volume_path = "$H/storage/volumes"
network_config_dir = "$H/etc/cni/net.d"
image_copy_tmp_dir = "$H/storage/tmp"
lock_type = "file"
conmon_path = ["${PODMON:-/usr/bin/conmon}"]
[engine.runtimes]
runc = ["/usr/sbin/runc", "/usr/bin/runc"]
[network]
network_config_dir = "$H/etc/cni/net.d"
CONF
cat > $H/etc/storage.conf <<CONF
[storage]
driver = "overlay"
graphroot = "$H/storage"
runroot = "$H/runroot"
[storage.options.overlay]
mountopt = "nodev"
CONF
echo 'unqualified-search-registries = []' > $H/etc/registries.conf
cat > $H/pm <<PM
#!/bin/sh
export CONTAINERS_CONF=$H/etc/containers.conf
export CONTAINERS_STORAGE_CONF=$H/etc/storage.conf
export CONTAINERS_REGISTRIES_CONF=$H/etc/registries.conf
export TMPDIR=$H/storage/tmp
exec /usr/bin/podman "\$@"
PM
chmod +x $H/pm
R=$H/rootfs
cp /bin/busybox $R/bin/busybox
for a in sh echo sleep cat ls true false tty kill printf test head seq yes dd; do ln -sf busybox $R/bin/$a; done
echo 'root:x:0:0:root:/root:/bin/sh' > $R/etc/passwd
echo 'root:x:0:' > $R/etc/group
chmod 1777 $R/tmp
tar -C $R -cf $H/busybox.tar .
[ -f /etc/containers/policy.json ] || { mkdir -p /etc/containers; echo '{"default":[{"type":"insecureAcceptAnything"}]}' > /etc/containers/policy.json; }
$H/pm import -q --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' $H/busybox.tar localhost/busybox:latest >/dev/null 2>&1
