#!/bin/sh
# PID 1 of hearth's Debian guests, after the initramfs switched to the root
# disk: mount the basics, bring up the network with busybox's ip (minbase
# has none), and hand over to the agent.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname sandbox
busybox ip link set lo up
busybox ip link set eth0 up
busybox ip addr add 10.0.2.15/24 dev eth0
busybox ip route add default via 10.0.2.2
echo "nameserver 10.0.2.3" > /etc/resolv.conf
exec /sbin/hearth-agent --init
