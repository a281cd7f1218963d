package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPollerSeesEveryRevisionOnce follows next_cursor while anomalies are
// inserted and updated concurrently.
func TestPollerSeesEveryRevisionOnce(t *testing.T) {
	for _, view := range []string{"all", "latest"} {
		t.Run(view, func(t *testing.T) {
			ctx := context.Background()
			s := openTestStore(t)
			srv := httptest.NewServer(localServer(t, s))
			defer srv.Close()

			// The writer: 30 anomalies, up to 4 revisions each, in a
			// seeded random order, with topic duplicates.
			rng := rand.New(rand.NewPCG(7, uint64(len(view))))
			type idRev struct {
				id  string
				rev int
			}
			var plan []idRev
			next := map[string]int{}
			for len(plan) < 120 {
				id := fmt.Sprintf("a%02d", rng.IntN(30))
				if next[id] == 4 {
					continue
				}
				next[id]++
				plan = append(plan, idRev{id, next[id]})
				if rng.IntN(5) == 0 {
					plan = append(plan, idRev{id, next[id]}) // duplicate
				}
			}
			var done atomic.Bool
			written := make(chan map[idRev]bool, 1)
			go func() {
				stored := map[idRev]bool{}
				for i, p := range plan {
					ok, err := s.Upsert(ctx, rec(p.id, p.rev, "high", time.Unix(1000, 0)))
					if err != nil {
						panic(err)
					}
					if ok {
						stored[p] = true
					}
					if i%10 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
				done.Store(true)
				written <- stored
			}()

			seen := map[idRev]int{}
			cursor := ""
			for polls := 0; polls < 10_000; polls++ {
				finished := done.Load() // read before the page so a drain after it is complete
				v := url.Values{"limit": {"7"}, "revisions": {view}}
				if cursor != "" {
					v.Set("cursor", cursor)
				}
				resp, err := http.Get(srv.URL + "/api/v1/anomalies?" + v.Encode())
				require.NoError(t, err)
				var body listBody
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
				resp.Body.Close()
				for _, r := range body.Data {
					seen[idRev{r.ID, r.Revision}]++
				}
				if body.NextCursor != "" {
					cursor = body.NextCursor
				}
				if !body.HasMore {
					if finished {
						break
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			stored := <-written
			for k, n := range seen {
				require.Equal(t, 1, n, "%v seen %d times", k, n)
				require.True(t, stored[k], "%v seen but never stored", k)
			}
			if view == "all" {
				require.Len(t, seen, len(stored), "every stored (id, revision) is seen")
				return
			}
			for id, rev := range next {
				require.Equal(t, 1, seen[idRev{id, rev}], "the final revision of %s", id)
			}
		})
	}
}
