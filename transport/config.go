package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Defaults applied by Config and GroupConfig when a field is zero.
const (
	DefaultClientID       = "escapement"
	DefaultDialTimeout    = 10 * time.Second
	DefaultBatchSize      = 1000
	DefaultBatchBytes     = 1 << 20
	DefaultBatchTimeout   = 50 * time.Millisecond
	DefaultMaxAttempts    = 10
	DefaultWriteTimeout   = 10 * time.Second
	DefaultCommitInterval = time.Second
)

// SASL mechanisms accepted in SASLConfig.Mechanism.
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// Config says how to reach the Kafka cluster and how the producer batches.
// The zero value of every field but Brokers is usable.
type Config struct {
	// Brokers are the bootstrap host:port addresses.
	Brokers []string `yaml:"brokers"`
	// ClientID is sent to the brokers (default "escapement"); producers that
	// share a prometheus.Registerer need distinct ClientIDs.
	ClientID string     `yaml:"client_id"`
	TLS      TLSConfig  `yaml:"tls"`
	SASL     SASLConfig `yaml:"sasl"`
	// DialTimeout bounds connection set-up (default 10s).
	DialTimeout time.Duration `yaml:"dial_timeout"`

	// A producer batch is sent when it holds BatchSize messages (default
	// 1000) or BatchBytes bytes (default 1 MiB), or BatchTimeout (default
	// 50ms) after its first message, whichever comes first.
	BatchSize    int           `yaml:"batch_size"`
	BatchBytes   int64         `yaml:"batch_bytes"`
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// MaxAttempts is how many times a batch is tried before Produce fails
	// (default 10).
	MaxAttempts int `yaml:"max_attempts"`
	// WriteTimeout bounds one produce request (default 10s).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// Compression of produced batches: "", "none", "gzip", "snappy", "lz4"
	// or "zstd".
	Compression string `yaml:"compression"`
}

// TLSConfig enables TLS to the brokers. CAFile replaces the system roots;
// CertFile and KeyFile, given together, present a client certificate.
type TLSConfig struct {
	Enable             bool   `yaml:"enable"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASLConfig authenticates to the brokers. An empty Mechanism disables SASL.
type SASLConfig struct {
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	return c
}

// Validate reports every problem in c (after defaults) in one error.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("transport: no brokers: set Brokers to at least one host:port"))
	}
	for _, b := range c.Brokers {
		if b == "" || !strings.Contains(b, ":") {
			errs = append(errs, fmt.Errorf("transport: broker %q: want host:port", b))
		}
	}
	if c.BatchSize < 0 || c.BatchBytes < 0 || c.BatchTimeout < 0 || c.MaxAttempts < 0 ||
		c.DialTimeout < 0 || c.WriteTimeout < 0 {
		errs = append(errs, errors.New("transport: batch size, batch bytes, timeouts and max attempts must not be negative"))
	}
	if _, err := c.compression(); err != nil {
		errs = append(errs, err)
	}
	if t := c.TLS; !t.Enable && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify) {
		errs = append(errs, errors.New("transport: TLS files or InsecureSkipVerify given but TLS.Enable is false: set TLS.Enable"))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("transport: TLS.CertFile and TLS.KeyFile must be given together"))
	}
	switch strings.ToLower(c.SASL.Mechanism) {
	case "":
		if c.SASL.Username != "" || c.SASL.Password != "" {
			errs = append(errs, errors.New("transport: SASL username or password given without SASL.Mechanism: set it to plain, scram-sha-256 or scram-sha-512"))
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if c.SASL.Username == "" {
			errs = append(errs, errors.New("transport: SASL.Username is empty"))
		}
	default:
		errs = append(errs, fmt.Errorf("transport: SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", c.SASL.Mechanism))
	}
	return errors.Join(errs...)
}

func (c Config) compression() (compress.Compression, error) {
	switch strings.ToLower(c.Compression) {
	case "", "none":
		return 0, nil
	case "gzip":
		return compress.Gzip, nil
	case "snappy":
		return compress.Snappy, nil
	case "lz4":
		return compress.Lz4, nil
	case "zstd":
		return compress.Zstd, nil
	}
	return 0, fmt.Errorf("transport: compression %q: want none, gzip, snappy, lz4 or zstd", c.Compression)
}

// tlsConfig builds the client TLS configuration, nil when TLS is off.
func (c Config) tlsConfig() (*tls.Config, error) {
	t := c.TLS
	if !t.Enable {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // operator's explicit choice
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("transport: read TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("transport: TLS CA file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("transport: load TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// saslMechanism builds the SASL mechanism, nil when SASL is off.
func (c Config) saslMechanism() (sasl.Mechanism, error) {
	s := c.SASL
	switch strings.ToLower(s.Mechanism) {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	}
	return nil, fmt.Errorf("transport: SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", s.Mechanism)
}

// dialer is what the consumer group and readers connect with.
func (c Config) dialer() (*kafka.Dialer, error) {
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	mech, err := c.saslMechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		ClientID:      c.ClientID,
		Timeout:       c.DialTimeout,
		DualStack:     true,
		TLS:           tlsCfg,
		SASLMechanism: mech,
	}, nil
}

// transport is what the producer and the admin client connect with.
func (c Config) transport() (*kafka.Transport, error) {
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	mech, err := c.saslMechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		ClientID:    c.ClientID,
		DialTimeout: c.DialTimeout,
		TLS:         tlsCfg,
		SASL:        mech,
	}, nil
}
