package events

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The Arrow IPC reader trusts the sizes written in a stream: a corrupt
// length makes it allocate gigabytes, which is a fatal out-of-memory error
// that recover cannot catch. CheckIPCSizes walks the stream's framing and
// the schema's vectors first and rejects any size larger than the input.

// ErrCorrupt is wrapped by CheckIPCSizes errors.
var ErrCorrupt = errors.New("corrupt Arrow IPC stream")

// Flatbuffer slots (vtable field indices) used below.
const (
	fbMessageHeader     = 2 // Message.header (union table)
	fbMessageBodyLength = 3 // Message.bodyLength (long)
	fbSchemaFields      = 1 // Schema.fields ([Field])
	fbSchemaMetadata    = 2 // Schema.custom_metadata ([KeyValue])
	fbFieldChildren     = 5 // Field.children ([Field])
	fbFieldMetadata     = 6 // Field.custom_metadata ([KeyValue])
	fbMaxDepth          = 32
)

// CheckIPCSizes rejects an Arrow IPC stream whose framing or schema claims
// more bytes than it holds. Every decoder of Escapement's Arrow messages calls
// it before handing untrusted bytes to the Arrow reader.
func CheckIPCSizes(data []byte) error {
	first := true
	for len(data) > 0 {
		if len(data) < 4 {
			return nil // the reader reports the truncation
		}
		n := binary.LittleEndian.Uint32(data)
		off := 4
		if n == 0xFFFFFFFF {
			if len(data) < 8 {
				return nil
			}
			n = binary.LittleEndian.Uint32(data[4:])
			off = 8
		}
		if n == 0 {
			return nil // end-of-stream marker
		}
		if uint64(n) > uint64(len(data)-off) {
			return fmt.Errorf("%w: message of %d bytes in %d", ErrCorrupt, n, len(data)-off)
		}
		meta := data[off : off+int(n)]
		data = data[off+int(n):]
		msg, ok := fbRoot(meta)
		if !ok {
			return fmt.Errorf("%w: bad message header", ErrCorrupt)
		}
		body, ok := fbInt64(meta, msg, fbMessageBodyLength)
		if !ok || body < 0 || body > int64(len(data)) {
			return fmt.Errorf("%w: message body of %d bytes in %d", ErrCorrupt, body, len(data))
		}
		if first {
			schema, ok := fbTable(meta, msg, fbMessageHeader)
			if !ok {
				return fmt.Errorf("%w: no schema", ErrCorrupt)
			}
			// Each real Field table takes more than 8 bytes: a larger count
			// means shared or cyclic children, which would make the reader's
			// walk exponential.
			budget := len(meta) / 8
			if err := fbCheckFields(meta, schema, fbSchemaFields, fbSchemaMetadata, 0, &budget); err != nil {
				return err
			}
			first = false
		}
		data = data[body:]
	}
	return nil
}

// fbCheckFields checks a table's vector of Field tables (recursively) and
// its key-value vector.
func fbCheckFields(b []byte, table, fieldsSlot, mdSlot, depth int, budget *int) error {
	if depth > fbMaxDepth {
		return fmt.Errorf("%w: fields nested too deep", ErrCorrupt)
	}
	if *budget--; *budget < 0 {
		return fmt.Errorf("%w: more fields than the schema message can hold", ErrCorrupt)
	}
	if _, _, ok := fbVector(b, table, mdSlot, 4); !ok {
		return fmt.Errorf("%w: bad metadata vector", ErrCorrupt)
	}
	pos, n, ok := fbVector(b, table, fieldsSlot, 4)
	if !ok {
		return fmt.Errorf("%w: bad fields vector", ErrCorrupt)
	}
	for i := 0; i < n; i++ {
		p := pos + 4*i
		child := p + int(binary.LittleEndian.Uint32(b[p:]))
		if child+4 > len(b) || child < 0 {
			return fmt.Errorf("%w: field %d out of range", ErrCorrupt, i)
		}
		if err := fbCheckFields(b, child, fbFieldChildren, fbFieldMetadata, depth+1, budget); err != nil {
			return err
		}
	}
	return nil
}

// fbRoot returns the position of a flatbuffer's root table.
func fbRoot(b []byte) (int, bool) {
	if len(b) < 4 {
		return 0, false
	}
	p := int(binary.LittleEndian.Uint32(b))
	return p, p+4 <= len(b)
}

// fbField returns the absolute position of a table's field slot, or 0 when
// the field is absent.
func fbField(b []byte, table, slot int) (int, bool) {
	if table < 0 || table+4 > len(b) {
		return 0, false
	}
	vt := table - int(int32(binary.LittleEndian.Uint32(b[table:])))
	if vt < 0 || vt+4 > len(b) {
		return 0, false
	}
	vtLen := int(binary.LittleEndian.Uint16(b[vt:]))
	e := 4 + 2*slot
	if e+2 > vtLen || vt+e+2 > len(b) {
		return 0, true
	}
	off := int(binary.LittleEndian.Uint16(b[vt+e:]))
	if off == 0 {
		return 0, true
	}
	return table + off, table+off <= len(b)
}

func fbInt64(b []byte, table, slot int) (int64, bool) {
	p, ok := fbField(b, table, slot)
	if !ok || p == 0 {
		return 0, ok
	}
	if p+8 > len(b) {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(b[p:])), true
}

func fbTable(b []byte, table, slot int) (int, bool) {
	p, ok := fbField(b, table, slot)
	if !ok || p == 0 || p+4 > len(b) {
		return 0, false
	}
	t := p + int(binary.LittleEndian.Uint32(b[p:]))
	return t, t >= 0 && t+4 <= len(b)
}

// fbVector returns the position of a vector's first element and its length,
// checking that n elements of elem bytes fit in b. An absent vector is empty.
func fbVector(b []byte, table, slot, elem int) (pos, n int, ok bool) {
	p, ok := fbField(b, table, slot)
	if !ok {
		return 0, 0, false
	}
	if p == 0 {
		return 0, 0, true
	}
	if p+4 > len(b) {
		return 0, 0, false
	}
	v := p + int(binary.LittleEndian.Uint32(b[p:]))
	if v < 0 || v+4 > len(b) {
		return 0, 0, false
	}
	n64 := uint64(binary.LittleEndian.Uint32(b[v:]))
	if n64*uint64(elem) > uint64(len(b)-v-4) {
		return 0, 0, false
	}
	return v + 4, int(n64), true
}
