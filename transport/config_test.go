package transport_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/transport"
)

func TestConfigValidate(t *testing.T) {
	ok := transport.Config{Brokers: []string{"k1:9092"}}
	tests := []struct {
		name    string
		mutate  func(c *transport.Config)
		wantErr string
	}{
		{name: "defaults are valid", mutate: func(*transport.Config) {}},
		{name: "no brokers", mutate: func(c *transport.Config) { c.Brokers = nil }, wantErr: "no brokers"},
		{name: "broker without port", mutate: func(c *transport.Config) { c.Brokers = []string{"k1"} }, wantErr: "want host:port"},
		{name: "negative batch", mutate: func(c *transport.Config) { c.BatchSize = -1 }, wantErr: "must not be negative"},
		{name: "unknown compression", mutate: func(c *transport.Config) { c.Compression = "brotli" }, wantErr: "want none, gzip"},
		{name: "tls files without enable", mutate: func(c *transport.Config) { c.TLS.CAFile = "ca.pem" }, wantErr: "set TLS.Enable"},
		{name: "cert without key", mutate: func(c *transport.Config) { c.TLS = transport.TLSConfig{Enable: true, CertFile: "c.pem"} }, wantErr: "together"},
		{name: "sasl unknown", mutate: func(c *transport.Config) { c.SASL = transport.SASLConfig{Mechanism: "gssapi", Username: "u"} }, wantErr: "want plain, scram-sha-256"},
		{name: "sasl no user", mutate: func(c *transport.Config) { c.SASL = transport.SASLConfig{Mechanism: "scram-sha-512"} }, wantErr: "Username is empty"},
		{name: "sasl user no mechanism", mutate: func(c *transport.Config) { c.SASL.Username = "u" }, wantErr: "without SASL.Mechanism"},
		{name: "sasl scram ok", mutate: func(c *transport.Config) {
			c.SASL = transport.SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "u", Password: "p"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			c.Brokers = append([]string(nil), ok.Brokers...)
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := transport.Config{}.WithDefaults()
	require.Equal(t, 50*time.Millisecond, c.BatchTimeout)
	require.Equal(t, "escapement", c.ClientID)
	gc := transport.GroupConfig{}.WithDefaults()
	require.Equal(t, time.Second, gc.CommitInterval)
	require.Equal(t, transport.StartFirst, gc.StartOffset)
}

func TestGroupConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		gc      transport.GroupConfig
		wantErr string
	}{
		{name: "ok", gc: transport.GroupConfig{GroupID: "g", Topics: []string{"t"}}},
		{name: "no id", gc: transport.GroupConfig{Topics: []string{"t"}}, wantErr: "GroupID is empty"},
		{name: "no topics", gc: transport.GroupConfig{GroupID: "g"}, wantErr: "no Topics"},
		{name: "bad start", gc: transport.GroupConfig{GroupID: "g", Topics: []string{"t"}, StartOffset: "middle"}, wantErr: "want first or last"},
		{name: "heartbeat above session", gc: transport.GroupConfig{GroupID: "g", Topics: []string{"t"}, SessionTimeout: time.Second, HeartbeatInterval: 2 * time.Second}, wantErr: "must be below SessionTimeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.gc.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestProduceRejectsMessageWithoutTopic(t *testing.T) {
	p, err := transport.NewProducer(transport.Config{Brokers: []string{"127.0.0.1:1"}}, nil, nil)
	require.NoError(t, err)
	defer p.Close()
	require.ErrorContains(t, p.Produce(t.Context(), transport.Message{Key: []byte("k")}), "no Topic")
}
