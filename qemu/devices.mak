# The devices of our minimal x86_64 QEMU: a Q35 machine, virtio over PCI,
# virtio-gpu (the device under test) and virtio-serial (the guest's channel
# to the harness). Copied by scripts/build-qemu.sh into the work tree as
# configs/devices/x86_64-softmmu/userptr.mak, where configure looks for it.
CONFIG_Q35=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_GPU=y
CONFIG_VIRTIO_SERIAL=y
