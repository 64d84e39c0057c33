# Guest commands (boot.sh --run) for io-uring-variance with the split of
# each userptr creation: kprobes on the creation and pin_user_pages_fast(),
# and the driver's command tracepoints, trace clock mono. The trace is printed
# between '### TRACE BEGIN' and '### TRACE END';
# io-uring-variance-trace.py reads output.log. See io-uring-variance.c.
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
T=/sys/kernel/tracing
echo mono > $T/trace_clock
echo 16384 > $T/buffer_size_kb
echo 'p:ucreate virtio_gpu_userptr_create' >> $T/kprobe_events
echo 'r:ucreate_ret virtio_gpu_userptr_create ret=$retval' >> $T/kprobe_events
echo 'p:upin pin_user_pages_fast' >> $T/kprobe_events
echo 'r:upin_ret pin_user_pages_fast ret=$retval' >> $T/kprobe_events
echo 1 > $T/events/kprobes/enable
echo 1 > $T/events/virtio_gpu/virtio_gpu_cmd_queue/enable
echo 1 > $T/events/virtio_gpu/virtio_gpu_cmd_response/enable
/opt/bin/io-uring-variance -b 10 -p 40
echo 0 > $T/tracing_on
echo "### TRACE BEGIN"
grep -E 'ucreate|upin|virtio_gpu_cmd' $T/trace
echo "### TRACE END"
