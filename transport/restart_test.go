package transport_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/transport"
	"github.com/escapement/escapement/transport/embedded"
)

// TestGroupRidesThroughBrokerRestart stops the broker under a consuming
// group member and starts it again on the same address and data: the member
// reopens its partition readers and goes on, nothing is lost and Run does not
// return.
func TestGroupRidesThroughBrokerRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	b, err := embedded.Start(embedded.Config{DataDir: dir, Addr: addr})
	require.NoError(t, err)
	cfg := transport.Config{Brokers: []string{b.Addr()}}.WithDefaults()
	const topic = "restart"
	ensure(t, cfg, topic, 2)
	produce(t, cfg, topic, 20, func(i int) string { return "k" + string(rune('a'+i%5)) })

	rec := &recorder{}
	gc := groupConfig("restart", topic)
	m := runMember(t, cfg, gc, rec)
	require.Eventually(t, func() bool { return rec.count() >= 20 }, 15*time.Second, 20*time.Millisecond)

	require.NoError(t, b.Close())
	time.Sleep(2 * time.Second) // fetches fail meanwhile
	b, err = embedded.Start(embedded.Config{DataDir: dir, Addr: addr})
	require.NoError(t, err)
	defer b.Close()
	produce(t, cfg, topic, 20, func(i int) string { return "k" + string(rune('a'+i%5)) })
	require.Eventually(t, func() bool { return rec.count() >= 40 }, 30*time.Second, 50*time.Millisecond,
		"the member must go on after the broker came back")
	m.stop(t)
}
