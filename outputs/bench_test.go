package outputs

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkEnqueue measures spooling one record for two outputs (one
// durable SQLite transaction), the cost the feed pays per stored anomaly.
func BenchmarkEnqueue(b *testing.B) {
	hook, err := NewWebhook(WebhookConfig{URL: "http://127.0.0.1:1/"})
	if err != nil {
		b.Fatal(err)
	}
	hec, err := NewHEC(HECConfig{URL: "http://127.0.0.1:1", Token: "t"})
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(Config{SpoolDir: b.TempDir(), Targets: []Target{{Output: hook}, {Output: hec}}}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := d.Enqueue(ctx, rec(fmt.Sprintf("a%07d", i), 1, "high")); err != nil {
			b.Fatal(err)
		}
	}
}
