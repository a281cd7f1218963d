package outputs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/anomaly/render"
)

// SyslogConfig configures a Syslog output.
type SyslogConfig struct {
	// Addr is the receiver's host:port (RFC 5425 uses 6514).
	Addr string
	// TLS configures the client side (nil: system roots, TLS 1.2+,
	// ServerName from Addr).
	TLS *tls.Config
	// Hostname is the syslog HOSTNAME (default os.Hostname()).
	Hostname string
	// ProductVersion goes in the CEF header.
	ProductVersion string
}

// Syslog sends each record as one RFC 5424 message whose MSG is the
// record's CEF line, over TLS (RFC 5425) with octet-counting framing
// (RFC 6587: "LEN SP MESSAGE"). It keeps one connection and redials after
// a failure.
type Syslog struct {
	cfg  SyslogConfig
	mu   sync.Mutex
	conn net.Conn
}

// Facility of the messages: 10, security/authorization (authpriv).
const syslogFacility = 10

// syslogSeverity maps info..critical to RFC 5424 severities
// (informational, notice, warning, error, critical).
var syslogSeverity = []int{6, 5, 4, 3, 2}

// NewSyslog returns a Syslog output.
func NewSyslog(cfg SyslogConfig) (*Syslog, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("syslog address %q: want host:port, e.g. siem:6514 (--output-syslog-addr)", cfg.Addr)
	}
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg.TLS = cfg.TLS.Clone()
	}
	if cfg.TLS.ServerName == "" {
		cfg.TLS.ServerName = host
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	cfg.Hostname = headerField(cfg.Hostname, 255)
	return &Syslog{cfg: cfg}, nil
}

// Name implements Output.
func (*Syslog) Name() string { return "syslog" }

// headerField makes s a valid RFC 5424 header field: printable US-ASCII
// without spaces, at most n bytes, "-" when empty.
func headerField(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n]
	}
	if s == "" {
		return "-"
	}
	return s
}

// Message renders rec as an RFC 5424 message (without framing).
func (s *Syslog) Message(rec anomaly.Record) string {
	sev := 6
	if i := anomaly.SeverityRank(rec.Severity); i >= 0 {
		sev = syslogSeverity[i]
	}
	ts := rec.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	if rec.UpdatedAt.IsZero() {
		ts = "-"
	}
	return fmt.Sprintf("<%d>1 %s %s escapement - anomaly - %s", syslogFacility*8+sev, ts, s.cfg.Hostname,
		render.CEF(rec, s.cfg.ProductVersion))
}

// Send implements Output.
func (s *Syslog) Send(ctx context.Context, rec anomaly.Record) error {
	msg := s.Message(rec)
	frame := fmt.Sprintf("%d %s", len(msg), msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		d := tls.Dialer{Config: s.cfg.TLS}
		c, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("syslog over TLS to %s: %w", s.cfg.Addr, err)
		}
		s.conn = c
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultSendTimeout)
	}
	_ = s.conn.SetWriteDeadline(deadline)
	if _, err := s.conn.Write([]byte(frame)); err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("syslog over TLS to %s: %w", s.cfg.Addr, err)
	}
	return nil
}

// Close closes the connection.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
