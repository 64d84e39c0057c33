#!/usr/bin/env python3
"""Derive the core patch's state of files from the final state: drop what
the tracepoint and debugfs patch adds (used by regen-linux-series.sh)."""
import re, sys
def drop_unused_vgdev(lines):
    """Drop a 'vgdev' local that the stripped function no longer uses."""
    res=list(lines)
    i=0
    while i < len(res):
        if res[i].startswith('{'):
            j=i
            while res[j] != '}': j+=1
            body=res[i:j+1]
            decl=[k for k,l in enumerate(body) if re.match(r'\tstruct virtio_gpu_device \*vgdev = ', l)]
            if decl:
                uses=sum(1 for k,l in enumerate(body) if 'vgdev' in l and k not in decl)
                if uses==0:
                    del res[i+decl[0]]
                    j-=1
            i=j+1
        else:
            i+=1
    return res

def strip_userptr(s):
    out=[]; lines=s.split('\n'); i=0
    skip_fn=False
    while i < len(lines):
        l=lines[i]
        if l.startswith('#include <linux/seq_file.h>') or l.startswith('#include "virtgpu_trace.h"'):
            i+=1; continue
        if l.strip().startswith('trace_virtio_gpu_userptr_'):
            while not lines[i].rstrip().endswith(';'): i+=1
            i+=1
            # drop a following blank line if previous line was blank too
            continue
        if re.match(r'\s*\* @pid: ', l) or re.match(r'\s*\* @link: entry in &virtio_gpu_device.userptrs', l):
            i+=1; continue
        if l.strip() in ('pid_t pid;','struct list_head link;','INIT_LIST_HEAD(&uptr->link);','uptr->pid = task_tgid_nr(current);'):
            i+=1; continue
        if l.strip()=='mutex_lock(&vgdev->userptr_lock);' and ('list_add_tail(&uptr->link' in lines[i+1] or 'list_del(&uptr->link' in lines[i+1]):
            i+=3; continue
        if l.startswith(' * &virtio_gpu_device.userptr_lock guards the debugfs list only.'):
            i+=1; continue
        if l.startswith('/**') and i+1 < len(lines) and 'virtio_gpu_userptr_debugfs_show()' in lines[i+1]:
            # drop to end of function
            while lines[i] != '}': i+=1
            i+=1
            # drop preceding blank line
            while out and out[-1]=='': out.pop()
            out.append('')
            continue
        out.append(l); i+=1
    out=drop_unused_vgdev(out)
    s='\n'.join(out)
    s=re.sub(r'\n{3,}', '\n\n', s)
    return s.rstrip('\n')+'\n'
def strip_drv(s):
    s=s.replace('''	/* protects userptrs, the list of userptr objects for debugfs */
	struct mutex userptr_lock;
	struct list_head userptrs;
''','')
    s=s.replace('''void virtio_gpu_userptr_debugfs_show(struct seq_file *m,
				     struct virtio_gpu_device *vgdev);
''','')
    return s
def strip_kms(s):
    return s.replace('''	mutex_init(&vgdev->userptr_lock);
	INIT_LIST_HEAD(&vgdev->userptrs);
''','')
if __name__=='__main__':
    kind,src,dst=sys.argv[1:4]
    s=open(src).read()
    s={'userptr':strip_userptr,'drv':strip_drv,'kms':strip_kms}[kind](s)
    open(dst,'w').write(s)
