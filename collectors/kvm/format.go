package kvm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrFormat is wrapped by errors about a tracepoint format file that cannot
// be understood.
var ErrFormat = errors.New("kvm: bad tracepoint format")

// Field is one field of a tracepoint record, as the format file describes it.
type Field struct {
	Name   string
	Offset int
	Size   int
	Signed bool
	// DataLoc marks a __data_loc field: the 4 bytes at Offset hold the
	// offset (low 16 bits) and length (high 16 bits) of variable data.
	DataLoc bool
}

// Format is a parsed events/<system>/<name>/format file.
type Format struct {
	System   string
	Name     string
	ID       uint16
	Fields   map[string]Field
	PrintFmt string
}

// ParseFormat parses the text of a tracepoint format file.
func ParseFormat(system string, data []byte) (*Format, error) {
	f := &Format{System: system, Fields: make(map[string]Field)}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	haveID := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "name:"):
			f.Name = strings.TrimSpace(strings.TrimPrefix(line, "name:"))
		case strings.HasPrefix(line, "ID:"):
			id, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "ID:")), 10, 16)
			if err != nil {
				return nil, fmt.Errorf("%w: %s/%s: ID: %w", ErrFormat, system, f.Name, err)
			}
			f.ID, haveID = uint16(id), true
		case strings.HasPrefix(line, "field:"):
			fl, err := parseField(line)
			if err != nil {
				return nil, fmt.Errorf("%w: %s/%s: %w", ErrFormat, system, f.Name, err)
			}
			f.Fields[fl.Name] = fl
		case strings.HasPrefix(line, "print fmt:"):
			f.PrintFmt = strings.TrimSpace(strings.TrimPrefix(line, "print fmt:"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, system, err)
	}
	if f.Name == "" || !haveID {
		return nil, fmt.Errorf("%w: %s: no name or ID line", ErrFormat, system)
	}
	return f, nil
}

// parseField parses "field:unsigned int port;	offset:12;	size:4;	signed:0;".
func parseField(line string) (Field, error) {
	var fl Field
	parts := strings.Split(line, ";")
	if len(parts) < 3 {
		return fl, fmt.Errorf("field line %q", line)
	}
	decl := strings.TrimSpace(strings.TrimPrefix(parts[0], "field:"))
	fl.DataLoc = strings.HasPrefix(decl, "__data_loc")
	if i := strings.IndexByte(decl, '['); i >= 0 {
		if j := strings.IndexByte(decl[i:], ']'); j >= 0 {
			decl = decl[:i] + " " + decl[i+j+1:]
		}
	}
	words := strings.Fields(decl)
	if len(words) == 0 {
		return fl, fmt.Errorf("field line %q has no name", line)
	}
	fl.Name = strings.TrimLeft(words[len(words)-1], "*")
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fl, fmt.Errorf("field %s: %s: %w", fl.Name, k, err)
		}
		switch k {
		case "offset":
			fl.Offset = n
		case "size":
			fl.Size = n
		case "signed":
			fl.Signed = n != 0
		}
	}
	if fl.Size <= 0 || fl.Offset < 0 {
		return fl, fmt.Errorf("field %s: offset %d size %d", fl.Name, fl.Offset, fl.Size)
	}
	return fl, nil
}

// ReadFormat reads and parses <tracefs>/events/<system>/<name>/format.
func ReadFormat(tracefs, system, name string) (*Format, error) {
	data, err := os.ReadFile(filepath.Join(tracefs, "events", system, name, "format"))
	if err != nil {
		return nil, fmt.Errorf("kvm: read format of %s:%s (is the kvm module loaded and tracefs mounted?): %w", system, name, err)
	}
	return ParseFormat(system, data)
}

// field returns the named field or an error naming the tracepoint.
func (f *Format) field(name string, minSize int) (Field, error) {
	fl, ok := f.Fields[name]
	if !ok {
		return fl, fmt.Errorf("%w: %s:%s has no field %q (kernel too old or too new for this collector)", ErrFormat, f.System, f.Name, name)
	}
	if fl.Size < minSize && !fl.DataLoc {
		return fl, fmt.Errorf("%w: %s:%s field %q is %d bytes, want at least %d", ErrFormat, f.System, f.Name, name, fl.Size, minSize)
	}
	return fl, nil
}
