package transport_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/escapement/escapement/transport"
)

// selfSigned writes a CA-less self-signed certificate for 127.0.0.1 and
// returns the server TLS config and the PEM file clients trust.
func selfSigned(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kafka-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, caFile
}

func TestTLSProducerAndGroup(t *testing.T) {
	serverTLS, caFile := selfSigned(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(serverTLS))
	require.NoError(t, err)
	defer c.Close()
	cfg := transport.Config{
		Brokers: c.ListenAddrs(), BatchTimeout: 5 * time.Millisecond,
		TLS: transport.TLSConfig{Enable: true, CAFile: caFile},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	require.NoError(t, transport.EnsureTopics(ctx, cfg, []transport.TopicSpec{{Name: "secure", Partitions: 2}}))
	produce(t, cfg, "secure", 10, func(i int) string { return string(rune('a' + i)) })

	rec := &recorder{}
	m := runMember(t, cfg, groupConfig("secure", "secure"), rec)
	require.Eventually(t, func() bool { return rec.count() == 10 }, 10*time.Second, 20*time.Millisecond)
	m.stop(t)

	// Without the CA the broker's certificate is refused.
	cfg.TLS.CAFile = ""
	bad, cancelBad := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelBad()
	require.Error(t, transport.EnsureTopics(bad, cfg, []transport.TopicSpec{{Name: "secure2"}}))
}
