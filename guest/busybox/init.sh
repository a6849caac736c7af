#!/bin/busybox sh
# PID 1 of hearth's busybox guest: mount the basics, load the virtio modules
# (the cloud kernel has them as modules, with no modules.dep, so in
# dependency order), bring up the network, and hand over to the agent.
/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
for module in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
              virtio_mmio failover net_failover virtio_net virtio_console virtio_blk; do
  [ -f /lib/modules/$module.ko ] && insmod /lib/modules/$module.ko 2>/dev/null
done
hostname sandbox
ip link set lo up
ip link set eth0 up 2>/dev/null
ip addr add 10.0.2.15/24 dev eth0 2>/dev/null
ip route add default via 10.0.2.2 2>/dev/null
echo "nameserver 10.0.2.3" > /etc/resolv.conf
exec /sbin/hearth-agent --init
