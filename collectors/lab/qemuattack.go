package lab

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"time"
)

//go:generate nasm -f bin -o qemuattack.bin qemuattack.asm

// qemuAttack is qemuattack.asm assembled: the console-pit boot sector with
// a PCI configuration-space scan switched on and off from the keyboard. A
// QEMU VM with windows boots it instead of qemuBoot.
//
//go:embed qemuattack.bin
var qemuAttack []byte

// QEMUAttacks lists the workloads a QEMU VM (workload QEMUConsolePIT) may
// run in a window, at flood rate: what its boot sector can do through
// QEMU's own device models.
func QEMUAttacks() []string { return []string{WPCIScan} }

// QEMU window timing.
const (
	qemuPoll      = 100 * time.Millisecond
	qemuAckWithin = 5 * time.Second // the guest polls its keyboard every 1-4 ticks
)

// qemuWindows drives the windows of a QEMU VM started at began: for each
// attack phase it waits for the phase's planned start and for the boot
// sector to be running (its "lab " lines on serial), presses 'a' through
// QMP at qmpPath, waits for the guest's "scan on", keeps the window for its
// duration and presses 'b'. With settle > 0 no window starts sooner than
// settle after the boot sector's first line. A window whose boot sector is
// late starts late and keeps its length. It returns one PhaseResult per
// phase with the times the keys were pressed; it stops at ctx's end.
func qemuWindows(ctx context.Context, began time.Time, phases []Phase, qmpPath, serial string, settle time.Duration) ([]PhaseResult, error) {
	out := make([]PhaseResult, len(phases))
	var q *qmp
	defer func() {
		if q != nil {
			q.close()
		}
	}()
	var booted time.Time // when the boot sector's first line was seen
	if settle > 0 {
		if err := waitSerial(ctx, serial, "lab ", 0, time.Time{}); err != nil {
			return nil, err
		}
		booted = time.Now()
	}
	at := began
	planned := began
	for k, ph := range phases {
		out[k] = PhaseResult{Workload: ph.Workload, Rate: ph.Rate, Start: at}
		planned = planned.Add(ph.Duration)
		if ph.Rate == "" {
			if k == len(phases)-1 {
				break // the run's end closes the last phase
			}
			if err := sleepUntil(ctx, planned); err != nil {
				return out[:k], err
			}
			at = time.Now().UTC()
			out[k].End = at
			continue
		}
		if err := waitSerial(ctx, serial, "lab ", 0, time.Time{}); err != nil {
			return out[:k], err
		}
		if settle > 0 {
			if err := sleepUntil(ctx, booted.Add(settle)); err != nil {
				return out[:k], err
			}
		}
		if q == nil {
			var err error
			if q, err = dialQMP(ctx, qmpPath); err != nil {
				return out[:k], err
			}
		}
		var from int64
		if fi, err := os.Stat(serial); err == nil {
			from = fi.Size()
		}
		if err := q.key("a"); err != nil {
			return out[:k], err
		}
		at = time.Now().UTC()
		out[k].Start = at
		if k > 0 {
			out[k-1].End = at
		}
		if err := waitSerial(ctx, serial, "scan on", from, at.Add(qemuAckWithin)); err != nil {
			return out[:k], fmt.Errorf("the boot sector did not start its scan: %w", err)
		}
		if err := sleepUntil(ctx, at.Add(ph.Duration)); err != nil {
			return out[:k+1], err
		}
		if err := q.key("b"); err != nil {
			return out[:k+1], err
		}
		at = time.Now().UTC()
		out[k].End = at
		if at.After(planned) {
			planned = at
		}
	}
	return out, nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitSerial polls the serial file until it holds want at or after byte
// from; after deadline (if set) it fails.
func waitSerial(ctx context.Context, serial, want string, from int64, deadline time.Time) error {
	for {
		if b, err := os.ReadFile(serial); err == nil && int64(len(b)) >= from && bytes.Contains(b[from:], []byte(want)) {
			return nil
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("no %q on the serial port by %s", want, deadline.Format(time.TimeOnly))
		}
		if err := sleepUntil(ctx, time.Now().Add(qemuPoll)); err != nil {
			return err
		}
	}
}

// qmp is a minimal QEMU Machine Protocol client: capabilities negotiation
// and send-key.
type qmp struct {
	c net.Conn
	r *bufio.Reader
}

func dialQMP(ctx context.Context, path string) (*qmp, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("QMP socket: %w", err)
	}
	q := &qmp{c: c, r: bufio.NewReader(c)}
	if _, err := q.r.ReadBytes('\n'); err != nil { // the greeting
		q.close()
		return nil, fmt.Errorf("QMP greeting: %w", err)
	}
	if err := q.do(map[string]any{"execute": "qmp_capabilities"}); err != nil {
		q.close()
		return nil, err
	}
	return q, nil
}

// do sends one command and reads its answer, skipping asynchronous events.
func (q *qmp) do(cmd map[string]any) error {
	b, _ := json.Marshal(cmd)
	_ = q.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := q.c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("QMP %v: %w", cmd["execute"], err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("QMP %v: %w", cmd["execute"], err)
		}
		var ans struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line, &ans); err != nil {
			return fmt.Errorf("QMP %v: answer %q: %w", cmd["execute"], line, err)
		}
		switch {
		case ans.Error != nil:
			return fmt.Errorf("QMP %v: %s", cmd["execute"], ans.Error.Desc)
		case ans.Return != nil:
			return nil
		}
	}
}

// key presses and releases one key (a QEMU qcode such as "a").
func (q *qmp) key(code string) error {
	return q.do(map[string]any{"execute": "send-key", "arguments": map[string]any{
		"keys": []map[string]string{{"type": "qcode", "data": code}}}})
}

func (q *qmp) close() { _ = q.c.Close() }

// validateQEMUWindow checks one window of a QEMU VM.
func validateQEMUWindow(v PlanVM, w Window) error {
	if v.Workload != QEMUConsolePIT {
		return fmt.Errorf("lab: VM %s: QEMU workload %s takes no windows: use %s for a QEMU VM that attacks", v.Name, v.Workload, QEMUConsolePIT)
	}
	if !slices.Contains(QEMUAttacks(), w.Workload) || w.Rate != RateFlood {
		return fmt.Errorf("lab: VM %s: window %s at %s: a QEMU VM runs only %v at flood rate", v.Name, w.Workload, w.Rate, QEMUAttacks())
	}
	return nil
}
