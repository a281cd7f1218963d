// Package stream defines the contract of detectors that score a VM's windows
// in time order: detectors that keep per-VM state (a baseline of the VM's
// own behaviour) or that read more of a window than its feature vector (the
// n-gram sketch).
//
// A Detector is fitted once, offline, on benign VMs' window sequences (each
// sequence one VM's windows in time order). At scoring time the scorer asks
// it for one State per VM and, for every window of that VM, first calls
// State.Score (how surprising the window is given what the VM did before) and
// then, when the window is not anomalous, State.Learn (fold it into the VM's
// baseline). Keeping Learn apart from Score is what freezes a baseline while
// its VM is above threshold: a slow attack cannot teach itself normal.
//
// States are small (bounded per VM, independent of how long the VM runs) and
// are dropped with the VM: a VM that moves to another scorer warms up again.
// A State is not safe for concurrent use; the Detector is, once fitted.
//
// Shape misuse (a window of the wrong dimension, Score before Fit) panics;
// bad data (no sequences, NaN or Inf values) returns an error from Fit.
package stream
