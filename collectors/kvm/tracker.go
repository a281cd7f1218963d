package kvm

import "time"

// vmState is what the collector keeps per VM.
type vmState struct {
	id  string
	pid int32
	// emulation counts since the last flush, and the trace time of the
	// latest counted instruction.
	emul, emulFailed uint64
	emulTS           uint64
}

// thread is a task of a VMM process tree, with its folding state.
type thread struct {
	vm   *vmState
	vcpu int32
	// pending is a kvm_exit waiting for its companion tracepoint.
	pending   bool
	pendingEv pendingExit
	hltByExit bool // a kvm_exit HLT was emitted since the last userspace exit
	// child marks tasks learnt from fork events or /proc (not from
	// discovery); they are forgotten when they exit.
	child bool
}

type pendingExit struct {
	ts     uint64
	reason uint32
	isa    uint32
	vcpu   int32
}

// tracker attributes task ids to VMs: threads found by discovery, children
// announced by sched_process_fork, and, for tasks seen first in a record, a
// walk up /proc's parent chain (cached, including misses).
type tracker struct {
	procRoot string // "" disables the /proc fallback
	vms      map[int32]*vmState
	threads  map[int32]*thread
	misses   map[int32]time.Time
	last     *thread
	lastTID  int32
}

func newTracker(procRoot string) *tracker {
	return &tracker{procRoot: procRoot, vms: make(map[int32]*vmState), threads: make(map[int32]*thread), misses: make(map[int32]time.Time)}
}

// missTTL bounds how long an unattributed task is not looked up again.
const missTTL = time.Second

func (t *tracker) lookup(tid int32) *thread {
	if t.last != nil && t.lastTID == tid {
		return t.last
	}
	th := t.threads[tid]
	if th == nil {
		th = t.slow(tid)
		if th == nil {
			return nil
		}
	}
	t.last, t.lastTID = th, tid
	return th
}

// slow attributes a task that discovery and fork events did not announce.
func (t *tracker) slow(tid int32) *thread {
	if t.procRoot == "" {
		return nil
	}
	if at, ok := t.misses[tid]; ok && time.Since(at) < missTTL {
		return nil
	}
	cur := tid
	for range 16 {
		tgid, ppid, err := procParent(t.procRoot, cur)
		if err != nil {
			break
		}
		for _, id := range []int32{tgid, ppid} {
			if p := t.threads[id]; p != nil {
				th := &thread{vm: p.vm, vcpu: -1, child: id != tgid}
				if id == tgid {
					th.vcpu = vcpuFromProc(t.procRoot, tgid, tid)
				}
				t.threads[tid] = th
				return th
			}
		}
		if ppid <= 1 {
			break
		}
		cur = ppid
	}
	t.misses[tid] = time.Now()
	return nil
}

// fork records that child belongs to the VM of parent.
func (t *tracker) fork(parent, child int32) {
	p := t.threads[parent]
	if p == nil || t.threads[child] != nil {
		return
	}
	t.threads[child] = &thread{vm: p.vm, vcpu: -1, child: true}
	delete(t.misses, child)
}

// exit forgets a task learnt from fork events once it exits.
func (t *tracker) exit(tid int32) {
	if th := t.threads[tid]; th != nil && th.child {
		delete(t.threads, tid)
		if t.lastTID == tid {
			t.last, t.lastTID = nil, 0
		}
	}
}

// update merges a discovery scan. It returns the VMs that appeared and the
// ids of those that went away. Threads of vanished VMMs are forgotten.
func (t *tracker) update(vmms []VMM) (added []VMM, removed []string) {
	seen := make(map[int32]bool, len(vmms))
	for _, v := range vmms {
		seen[v.PID] = true
		st := t.vms[v.PID]
		if st == nil || st.id != v.VMID {
			st = &vmState{id: v.VMID, pid: v.PID}
			t.vms[v.PID] = st
			added = append(added, v)
		}
		for tid, vcpu := range v.Threads {
			th := t.threads[tid]
			if th == nil || th.vm != st {
				t.threads[tid] = &thread{vm: st, vcpu: vcpu}
				delete(t.misses, tid)
			} else if vcpu >= 0 {
				th.vcpu = vcpu
			}
		}
	}
	for pid, st := range t.vms {
		if seen[pid] {
			continue
		}
		removed = append(removed, st.id)
		delete(t.vms, pid)
		for tid, th := range t.threads {
			if th.vm == st {
				delete(t.threads, tid)
			}
		}
	}
	t.last, t.lastTID = nil, 0
	return added, removed
}
