package api

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkUpsert measures one durable (synchronous=FULL) upsert of a new
// revision.
func BenchmarkUpsert(b *testing.B) {
	s := openTestStore(b)
	ctx := context.Background()
	t0 := time.Unix(1000, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Upsert(ctx, rec(fmt.Sprintf("a%d", i%1000), i/1000+1, "high", t0)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListPage measures one 100-item page from a 5 000-anomaly store.
func BenchmarkListPage(b *testing.B) {
	s := openTestStore(b)
	ctx := context.Background()
	for i := 0; i < 5000; i++ {
		if _, err := s.Upsert(ctx, rec(fmt.Sprintf("a%05d", i), 1, "high", time.Unix(1000, 0))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.List(ctx, Query{Limit: 100, SeverityMin: "medium", After: Cursor{UpdatedAt: int64(i % 4000)}}); err != nil {
			b.Fatal(err)
		}
	}
}
