#!/usr/bin/env bash
# Boots the test VM once: runs WORK/guest.sh inside it (see init) and returns when the guest powers off.
# Usage: boot.sh KERNEL INITRD WORK [MEMORY_MB] [CPUS]      Console on stdout. Software emulation (TCG):
# no KVM needed. The guest reaches the host's 127.0.0.1:PORT as 10.0.2.2:PORT.
set -euo pipefail
kernel=${1:?usage: boot.sh KERNEL INITRD WORK [MEMORY_MB] [CPUS]}
initrd=${2:?}
work=${3:?}
mem=${4:-1024}
cpus=${5:-1}
exec qemu-system-x86_64 -accel tcg -cpu max -smp "$cpus" -m "$mem" -nographic -no-reboot -nodefaults \
  -serial stdio -monitor none \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet loglevel=4 loopdev.work=$work" \
  -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$work,mount_tag=work,security_model=none"
