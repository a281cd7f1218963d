package api

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// A cursor is opaque to clients: base64url of "v1|updated_at_ns|id".
func encodeCursor(c Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1|" + strconv.FormatInt(c.UpdatedAt, 10) + "|" + c.ID))
}

var errCursor = errors.New("not a cursor of this API")

func decodeCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errCursor
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return Cursor{}, errCursor
	}
	ns, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || ns < 0 {
		return Cursor{}, errCursor
	}
	return Cursor{UpdatedAt: ns, ID: parts[2]}, nil
}
