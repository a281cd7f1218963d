package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// TopicSpec describes a topic EnsureTopics creates when it is missing.
// Partitions and ReplicationFactor of 0 take the broker's defaults.
type TopicSpec struct {
	Name              string            `yaml:"name"`
	Partitions        int               `yaml:"partitions"`
	ReplicationFactor int               `yaml:"replication_factor"`
	Configs           map[string]string `yaml:"configs"`
}

// EnsureTopics creates the topics that do not exist yet and waits until every
// topic has a leader for each partition. Existing topics are left as they are
// (their partition count and configs are not changed).
func EnsureTopics(ctx context.Context, cfg Config, topics []TopicSpec) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	cfg = cfg.WithDefaults()
	tr, err := cfg.transport()
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: cfg.WriteTimeout}

	req := &kafka.CreateTopicsRequest{}
	names := make([]string, 0, len(topics))
	for _, t := range topics {
		if t.Name == "" {
			return errors.New("transport: EnsureTopics: a TopicSpec has no Name")
		}
		tc := kafka.TopicConfig{Topic: t.Name, NumPartitions: -1, ReplicationFactor: -1}
		if t.Partitions > 0 {
			tc.NumPartitions = t.Partitions
		}
		if t.ReplicationFactor > 0 {
			tc.ReplicationFactor = t.ReplicationFactor
		}
		for k, v := range t.Configs {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		req.Topics = append(req.Topics, tc)
		names = append(names, t.Name)
	}
	resp, err := cl.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("transport: create topics on %v: %w", cfg.Brokers, err)
	}
	var errs []error
	for name, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("transport: create topic %s: %w", name, terr))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return waitTopics(ctx, cl, names)
}

// waitTopics polls metadata until every topic reports a leader per partition.
func waitTopics(ctx context.Context, cl *kafka.Client, names []string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
		if err == nil && topicsReady(md, len(names)) {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("partitions without a leader")
			}
			return fmt.Errorf("transport: topics %v not ready: %w (last: %v)", names, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

func topicsReady(md *kafka.MetadataResponse, want int) bool {
	if len(md.Topics) != want {
		return false
	}
	for _, t := range md.Topics {
		if t.Error != nil || len(t.Partitions) == 0 {
			return false
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.ID < 0 {
				return false
			}
		}
	}
	return true
}
