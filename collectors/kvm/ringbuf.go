package kvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrMalformed is wrapped by errors about a ring-buffer page or record that
// cannot be decoded. Such input is counted and skipped, never fatal.
var ErrMalformed = errors.New("kvm: malformed trace data")

// Ring-buffer event header types (kernel/trace/ring_buffer.c, and the
// events/header_event file of tracefs).
const (
	rbTypeDataMax   = 28
	rbTypePadding   = 29
	rbTypeTimeExt   = 30
	rbTypeTimeStamp = 31
	rbTSShift       = 27
	rbMissedEvents  = 1 << 31
	rbMissedStored  = 1 << 30
	rbCommitMask    = rbMissedStored - 1
)

// PageLayout is where the header fields of a ring-buffer page sit, from
// events/header_page.
type PageLayout struct {
	CommitOffset int
	CommitSize   int
	DataOffset   int
	PageSize     int
}

// DefaultPageLayout is the layout of 64-bit kernels with 4 KiB sub-buffers.
var DefaultPageLayout = PageLayout{CommitOffset: 8, CommitSize: 8, DataOffset: 16, PageSize: 4096}

// ReadPageLayout parses <tracefs>/events/header_page.
func ReadPageLayout(tracefs string) (PageLayout, error) {
	data, err := os.ReadFile(filepath.Join(tracefs, "events", "header_page"))
	if err != nil {
		return PageLayout{}, fmt.Errorf("kvm: read ring-buffer page layout (mount tracefs: mount -t tracefs nodev /sys/kernel/tracing): %w", err)
	}
	return ParsePageLayout(string(data))
}

// ParsePageLayout parses the text of events/header_page.
func ParsePageLayout(text string) (PageLayout, error) {
	l := PageLayout{}
	have := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "field:") {
			continue
		}
		fl, err := parseField(line)
		if err != nil {
			return l, fmt.Errorf("%w: header_page: %w", ErrFormat, err)
		}
		switch fl.Name {
		case "commit":
			l.CommitOffset, l.CommitSize = fl.Offset, fl.Size
			have |= 1
		case "data":
			l.DataOffset, l.PageSize = fl.Offset, fl.Offset+fl.Size
			have |= 2
		}
	}
	if have != 3 || (l.CommitSize != 4 && l.CommitSize != 8) || l.DataOffset < l.CommitOffset+l.CommitSize {
		return l, fmt.Errorf("%w: header_page lacks commit/data fields: %q", ErrFormat, text)
	}
	return l, nil
}

// pageReader walks the records of one ring-buffer page.
type pageReader struct {
	data   []byte
	off    int
	ts     uint64
	missed uint64 // records lost before this page (0 when none)
	lost   bool   // the page says events were lost, count unknown when missed == 0
}

// reset prepares r to read page. It returns an error wrapping ErrMalformed
// when the header is inconsistent.
func (r *pageReader) reset(l *PageLayout, page []byte) error {
	*r = pageReader{}
	if len(page) < l.DataOffset {
		return fmt.Errorf("%w: page of %d bytes, header needs %d", ErrMalformed, len(page), l.DataOffset)
	}
	r.ts = binary.LittleEndian.Uint64(page)
	var commit uint64
	if l.CommitSize == 8 {
		commit = binary.LittleEndian.Uint64(page[l.CommitOffset:])
	} else {
		commit = uint64(binary.LittleEndian.Uint32(page[l.CommitOffset:]))
	}
	n := int(commit & rbCommitMask)
	data := page[l.DataOffset:]
	if n > len(data) {
		return fmt.Errorf("%w: page commit %d beyond %d data bytes", ErrMalformed, n, len(data))
	}
	r.data = data[:n]
	if commit&rbMissedEvents != 0 {
		r.lost = true
		if commit&rbMissedStored != 0 && n+8 <= len(data) {
			r.missed = binary.LittleEndian.Uint64(data[n:])
		}
	}
	return nil
}

// next returns the timestamp and payload of the next data record. ok is
// false at the end of the page; err wraps ErrMalformed when the rest of the
// page cannot be walked (the caller counts it and drops the page's rest).
func (r *pageReader) next() (ts uint64, payload []byte, ok bool, err error) {
	for r.off+4 <= len(r.data) {
		d := r.data[r.off:]
		hdr := binary.LittleEndian.Uint32(d)
		typeLen := hdr & 0x1f
		delta := uint64(hdr >> 5)
		switch {
		case typeLen == rbTypePadding:
			if delta == 0 { // null padding: the rest of the page is empty
				r.off = len(r.data)
				return 0, nil, false, nil
			}
			if len(d) < 8 {
				return r.fail("short padding event")
			}
			n := int(binary.LittleEndian.Uint32(d[4:])) + 4
			if n < 8 || n > len(d) {
				return r.fail("padding length out of page")
			}
			r.off += n
		case typeLen == rbTypeTimeExt:
			if len(d) < 8 {
				return r.fail("short time extend")
			}
			r.ts += delta + uint64(binary.LittleEndian.Uint32(d[4:]))<<rbTSShift
			r.off += 8
		case typeLen == rbTypeTimeStamp:
			if len(d) < 8 {
				return r.fail("short time stamp")
			}
			abs := delta | uint64(binary.LittleEndian.Uint32(d[4:]))<<rbTSShift
			const low = 1<<59 - 1 // the event holds 59 bits; the top comes from the page
			r.ts = abs | (r.ts &^ low)
			r.off += 8
		case typeLen == 0:
			if len(d) < 8 {
				return r.fail("short long-record header")
			}
			n := int(binary.LittleEndian.Uint32(d[4:]))
			if n < 4 || 4+n > len(d) {
				return r.fail("record length out of page")
			}
			r.ts += delta
			r.off += 4 + (n+3)&^3
			if r.off > len(r.data) {
				r.off = len(r.data)
			}
			return r.ts, d[8 : 4+n], true, nil
		default: // 1..28: payload of typeLen words
			n := int(typeLen) * 4
			if 4+n > len(d) {
				return r.fail("record length out of page")
			}
			r.ts += delta
			r.off += 4 + n
			return r.ts, d[4 : 4+n], true, nil
		}
	}
	return 0, nil, false, nil
}

func (r *pageReader) fail(why string) (uint64, []byte, bool, error) {
	off := r.off
	r.off = len(r.data)
	return 0, nil, false, fmt.Errorf("%w: %s at page offset %d", ErrMalformed, why, off)
}
