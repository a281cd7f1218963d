package transport_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/escapement/escapement/transport"
)

func TestSASLMechanisms(t *testing.T) {
	tests := []struct {
		mechanism, kfakeMethod string
	}{
		{transport.SASLPlain, "PLAIN"},
		{transport.SASLScramSHA256, "SCRAM-SHA-256"},
		{transport.SASLScramSHA512, "SCRAM-SHA-512"},
	}
	for _, tc := range tests {
		t.Run(tc.mechanism, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(tc.kfakeMethod, "stage", "s3cret"))
			require.NoError(t, err)
			defer c.Close()
			cfg := transport.Config{
				Brokers: c.ListenAddrs(), BatchTimeout: 5 * time.Millisecond, MaxAttempts: 1, DialTimeout: 2 * time.Second,
				SASL: transport.SASLConfig{Mechanism: tc.mechanism, Username: "stage", Password: "s3cret"},
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, transport.EnsureTopics(ctx, cfg, []transport.TopicSpec{{Name: "authed", Partitions: 1}}))
			p, err := transport.NewProducer(cfg, nil, nil)
			require.NoError(t, err)
			require.NoError(t, p.Produce(ctx, transport.Message{Topic: "authed", Key: []byte("k"), Value: []byte("v")}))
			require.NoError(t, p.Close())

			cfg.SASL.Password = "wrong"
			bad, cancelBad := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancelBad()
			require.Error(t, transport.EnsureTopics(bad, cfg, []transport.TopicSpec{{Name: "authed2", Partitions: 1}}))
		})
	}
}
