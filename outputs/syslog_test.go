package outputs

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
)

// testCert makes a self-signed certificate for 127.0.0.1 and a pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "syslog-test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// readFrames reads RFC 6587 octet-counted frames until the connection ends.
func readFrames(r *bufio.Reader, out chan<- string) error {
	for {
		lenStr, err := r.ReadString(' ')
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(lenStr[:len(lenStr)-1])
		if err != nil || n <= 0 {
			return fmt.Errorf("bad frame length %q", lenStr)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		out <- string(buf)
	}
}

var rfc5424 = regexp.MustCompile(`^<(\d+)>1 (\S+) (\S+) escapement - anomaly - (CEF:0\|Escapement\|Escapement\|1\.2\.3\|ens\|.*)$`)

// TestSyslogTLSAfterOutage: the receiver is not listening when the first
// records are spooled; once it listens every record arrives exactly once as
// an octet-counted RFC 5424 message carrying CEF.
func TestSyslogTLSAfterOutage(t *testing.T) {
	cert, pool := testCert(t)
	addr := freeAddr(t)
	out, err := NewSyslog(SyslogConfig{Addr: addr, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Hostname: "escapement host", ProductVersion: "1.2.3"})
	require.NoError(t, err)
	d, err := New(fastConfig(t.TempDir(), Target{Output: out, MinSeverity: "medium"}), nil, nil)
	require.NoError(t, err)
	defer d.Close()
	stop := runDispatcher(t, d)
	defer stop()
	ctx := context.Background()
	sevs := map[string]string{}
	for i := range 6 {
		r := rec(fmt.Sprintf("s%d", i), 1, anomaly.Severities[i%5])
		r.Title = "pipe | and = sign"
		sevs[r.ID] = r.Severity
		require.NoError(t, d.Enqueue(ctx, r))
	}
	time.Sleep(60 * time.Millisecond) // dials fail: nothing listens

	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	defer ln.Close()
	frames := make(chan string, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = readFrames(bufio.NewReader(c), frames) }()
		}
	}()
	got := map[string]int{}
	deadline := time.After(10 * time.Second)
	for len(got) < 3 { // medium and above: s2, s3, s4
		select {
		case f := <-frames:
			m := rfc5424.FindStringSubmatch(f)
			require.NotNil(t, m, f)
			id := regexp.MustCompile(`externalId=(\S+)`).FindStringSubmatch(f)[1]
			pri, _ := strconv.Atoi(m[1])
			require.Equal(t, 10, pri/8, "facility authpriv")
			require.Equal(t, syslogSeverity[anomaly.SeverityRank(sevs[id])], pri%8, id)
			require.Equal(t, "escapementhost", m[3], "HOSTNAME without spaces")
			require.Contains(t, f, `msg=pipe | and \= sign`)
			got[id]++
		case <-deadline:
			t.Fatalf("frames so far: %v", got)
		}
	}
	select {
	case f := <-frames:
		t.Fatalf("unexpected frame %q", f)
	case <-time.After(100 * time.Millisecond):
	}
	require.Equal(t, map[string]int{"s2": 1, "s3": 1, "s4": 1}, got)
	ln.Close()
	wg.Wait()
}
