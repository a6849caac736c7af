#!/bin/busybox sh
# The initramfs of hearth's Debian guests: load the virtio modules (the cloud
# kernel has them as modules, with no modules.dep, so in dependency order),
# mount the root disk, put the agent and its init on it (so the cached root
# disk does not change when the agent does), and switch to it.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
              virtio_mmio failover net_failover virtio_net virtio_console virtio_blk; do
  [ -f /lib/modules/$module.ko ] && insmod /lib/modules/$module.ko 2>/dev/null
done
mkdir -p /newroot
attempt=0
while [ ! -b /dev/vda ] && [ $attempt -lt 300 ]; do
  sleep 0.1
  attempt=$((attempt + 1))
done
if ! mount -t ext4 /dev/vda /newroot; then
  echo "hearth: cannot mount the root disk /dev/vda" >&2
  ls /sys/block >&2
  exec sh
fi
cp /sbin/hearth-agent /newroot/sbin/hearth-agent
cp /hearth-init /newroot/sbin/hearth-init
cp /bin/busybox /newroot/usr/local/bin/busybox
chmod 0755 /newroot/sbin/hearth-agent /newroot/sbin/hearth-init /newroot/usr/local/bin/busybox
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /sbin/hearth-init
